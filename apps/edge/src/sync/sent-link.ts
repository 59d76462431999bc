import { XraySchema, type Xray } from '@xray/shared';
import type { AuthorizeRequest } from '../auth/server.authorizer.ts';
import { openMetadata, sealMetadata } from '../crypto/metadata.cipher.ts';
import { unwrapWithDeviceKey } from '../crypto/device-key.ts';
import type { EdgeDb } from '../db/edge.db.ts';
import { getFromServer } from './server.get.ts';

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
 * capture's sealed metadata names the new patient too.
 */
export function createSentLinks(opts: SentLinksOptions) {
  const base = opts.baseUrl.replace(/\/+$/, '');
  const doFetch = opts.fetch ?? ((i: RequestInfo | URL, init?: RequestInit) => fetch(i, init));

  async function keep(id: string, x: Xray): Promise<void> {
    await opts.db.captures.update(id, {
      serverLink: {
        status: x.link.status,
        ...(x.link.reason ? { reason: x.link.reason } : {}),
        checkedAt: Date.now(),
      },
    });
  }

  async function call(method: 'GET' | 'PATCH', id: string, body?: unknown): Promise<Xray | undefined> {
    const url = `${base}/xrays/${encodeURIComponent(id)}`;
    const headers = await opts.authorize(method, url);
    if (!headers) throw new Error('Sign in to check X-rays with the server.');
    const res = await getFromServer(
      doFetch,
      url,
      {
        method,
        cache: 'no-store',
        headers: {
          ...headers,
          Accept: 'application/json',
          ...(body === undefined ? {} : { 'Content-Type': 'application/merge-patch+json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      },
      { path: `/xrays/${id}`, unreachable: 'The server could not be reached.', accept: method === 'GET' ? [404] : [] },
    );
    if (res.status === 404) return undefined;
    return XraySchema.parse(await res.json());
  }

  return {
    /** Reads the X-ray's link from the server and keeps it on the capture; false when the server has none. */
    async check(id: string): Promise<boolean> {
      const x = await call('GET', id);
      if (x) await keep(id, x);
      return x !== undefined;
    },
    /** PATCH /xrays/{id} { patientId }: the server re-checks the link; the device keeps the answer. */
    async fixPatient(id: string, patientId: string): Promise<Xray> {
      const x = await call('PATCH', id, { patientId: patientId.trim() });
      if (!x) throw new Error('The server has no such X-ray.');
      const record = await opts.db.captures.get(id);
      if (record) {
        const dek = await unwrapWithDeviceKey(opts.db, record.wrappedDek, record.keyId);
        const metadata = await openMetadata(dek, record.encryptedMetadata);
        const encryptedMetadata = await sealMetadata(dek, {
          ...metadata,
          xray: { ...metadata.xray, patientId: x.patientId },
        });
        await opts.db.captures.update(id, { encryptedMetadata });
      }
      await keep(id, x);
      return x;
    },
  };
}

export type SentLinks = ReturnType<typeof createSentLinks>;
