import type { Xray } from '@xray/shared';
import type { AuthorizeRequest } from '../auth/server.authorizer.ts';
import { openMetadata, sealMetadata } from '../crypto/metadata.cipher.ts';
import { unwrapWithDeviceKey } from '../crypto/device-key.ts';
import type { EdgeDb } from '../db/edge.db.ts';
import { createServerApi } from './server.api.ts';
import { UploadError } from './uploader.ts';

export interface SentLinksOptions {
  db: EdgeDb;
  baseUrl: string;
  authorize: AuthorizeRequest;
  fetch?: typeof fetch;
}

/**
 * After sync, what the server made of a capture's patient: `check` reads GET /xrays/{id} and
 * keeps the link's status and reason on the capture record; `fixPatient` is the paramedic's
 * correction from the device (PATCH /xrays/{id}, audited on the server), after which the
 * capture's sealed metadata names the new patient too. Signed out, nothing is sent
 * (SignedOutError).
 */
export function createSentLinks(opts: SentLinksOptions) {
  const server = createServerApi(opts);

  async function keep(id: string, x: Xray, etag: string | undefined): Promise<void> {
    await opts.db.captures.update(id, {
      serverLink: {
        status: x.link.status,
        ...(x.link.reason ? { reason: x.link.reason } : {}),
        checkedAt: Date.now(),
        ...(etag ? { etag } : {}),
      },
    });
  }

  /** Reads the X-ray's link from the server and keeps it on the capture; false when the server has none. */
  async function check(id: string): Promise<boolean> {
    const found = await server.xrayVersion(id, opts.authorize);
    if (found) await keep(id, found.xray, found.etag);
    return found !== undefined;
  }

  return {
    check,
    /**
     * PATCH /xrays/{id} { patientId } on the version the paramedic was shown (If-Match): the
     * server re-checks the link; the device keeps the answer. When the X-ray changed on the
     * server meanwhile (a doctor corrected it, the link check settled), nothing is applied: the
     * device reads it again and says so, and the paramedic decides on what is there now.
     */
    async fixPatient(id: string, patientId: string): Promise<Xray> {
      const shown = (await opts.db.captures.get(id))?.serverLink?.etag;
      let fixed: { xray: Xray; etag?: string };
      try {
        fixed = await server.correctXrayVersion(id, { patientId: patientId.trim() }, opts.authorize, shown);
      } catch (err) {
        if (err instanceof UploadError && err.failure.kind === 'http' && err.failure.status === 412) {
          await check(id).catch(() => undefined);
          throw new Error('The X-ray was changed on the server meanwhile: check what it says now, then fix it again.', {
            cause: err,
          });
        }
        throw err;
      }
      const x = fixed.xray;
      const record = await opts.db.captures.get(id);
      if (record) {
        const dek = await unwrapWithDeviceKey(opts.db, record.wrappedDek, record.keyId);
        const metadata = await openMetadata(dek, record.encryptedMetadata);
        // As on the server: a patient decision is about the patient it was made for, and goes with it.
        const { patientDecision: _d, patientDecisionReason: _r, identityOverride: _o, ...rest } = metadata.xray;
        const kept = x.patientId === metadata.xray.patientId ? metadata.xray : rest;
        const encryptedMetadata = await sealMetadata(dek, { ...metadata, xray: { ...kept, patientId: x.patientId } });
        await opts.db.captures.update(id, { encryptedMetadata });
      }
      await keep(id, x, fixed.etag);
      return x;
    },
  };
}

export type SentLinks = ReturnType<typeof createSentLinks>;
