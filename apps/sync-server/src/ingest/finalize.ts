import type { XrayMetadataInput } from '@xray/shared';
import {
  appendAudit,
  recordAudit,
  systemContext,
  type AuditContext,
  type AuditEventInput,
} from '../audit/audit.service.ts';
import type { Actor } from '../auth/actor.ts';
import { commitOutcomeUnknown, inTransaction, type Pool } from '../db/pool.ts';
import { indexDicomInstance } from '../dicomweb/dicom-index.ts';
import { DomainError, isDomainError } from '../errors.ts';
import type { OutboxWriter } from '../events/outbox.repository.ts';
import { identityMismatchIfNew, linkInvalidIfSo, xrayUploaded } from '../events/xray.events.ts';
import { arrivalLink, type LinkVerifier } from '../integrations/link.verifier.ts';
import type { KeyService } from '../keys/key.service.ts';
import type { Logger } from '../observability/logger.ts';
import type { ObjectStore } from '../storage/index.ts';
import { xrayChangeRepository } from '../xrays/xray-changes.repository.ts';
import { xrayLinkRepository } from '../xrays/xray-link.repository.ts';
import { recordKeyOf, writeRecord } from '../xrays/xray-record.ts';
import { xrayRepository, type XrayRecord } from '../xrays/xray.repository.ts';
import type { InspectedContent } from './content-inspector.ts';
import { decideIdentity, overrideOf } from './identity.ts';
import { repeatOf } from './repeat-rule.ts';
import { refuseAsDeleted } from './tombstone-rule.ts';

export interface FinalizeDeps {
  pool: Pool;
  store: ObjectStore;
  log: Logger;
  /** Patient and consultation check (unchecked when no Patient Service is configured). */
  links: LinkVerifier;
  /** Events committed with the X-ray (transactional outbox). */
  outbox: OutboxWriter;
  /** Seals the X-ray's recovery record (xrays/xray-record.ts). */
  keys: KeyService;
}

export interface FinalizeInput {
  id: string;
  metadata: XrayMetadataInput;
  actor: Actor;
  objectKey: string;
  content: InspectedContent;
  /** How the stored object is encrypted: its data key wrapped by a KEK, and its size. */
  sealed: { dekWrapped: Uint8Array; kekId: string; cipherSize: number };
  /** Who asked, for the audit event (created in the X-ray's own transaction). Absent: the actor alone. */
  context?: AuditContext;
  /**
   * Resolves once the object's bytes are durable, when that is still under way (a tus upload's
   * fsync, overlapped with this finalize): the row never commits before.
   */
  durable?: Promise<void>;
}

export interface FinalizeResult {
  xray: XrayRecord;
  /** False when this id was already stored with the same bytes (an idempotent repeat). */
  created: boolean;
}

/**
 * The one step both doors (POST /xrays, tus) end in: the object is stored and inspected;
 * check it against what the client declared, then commit the row in one transaction.
 * On any failure the object is removed, so a failed finalize leaves no row and no orphan.
 */
export async function finalizeXray(deps: FinalizeDeps, input: FinalizeInput): Promise<FinalizeResult> {
  const { metadata, content } = input;
  try {
    if (metadata.sha256 && metadata.sha256 !== content.sha256) {
      throw new DomainError(
        'checksum_mismatch',
        `The received bytes hash to ${content.sha256}, not the declared ${metadata.sha256}; nothing was stored.`,
      );
    }
    const audit = input.context ?? systemContext(input.actor);
    // Before the transaction (no network inside it), one try within a short budget: the upload
    // never waits long for, nor fails because of, the Patient Service. No answer: pending.
    const link = await arrivalLink(deps.links, metadata, content.dicom);
    // The file's own patient against the metadata's and the Patient Service record the link brought.
    const identity = decideIdentity({
      dicom: content.dicom,
      patientId: metadata.patientId,
      issuer: deps.links.patientIdIssuer,
      link,
      override: overrideOf(metadata, { sub: input.actor.sub, name: input.actor.name }, content.dicom),
    });
    const inserted = await inTransaction(deps.pool, async (tx) => {
      const row = await xrayRepository.insert(tx, {
        id: input.id,
        patientId: metadata.patientId,
        consultationId: metadata.consultationId ?? null,
        capturedAt: new Date(metadata.capturedAt).toISOString(),
        capturedBy: { sub: input.actor.sub, name: input.actor.name },
        deviceId: metadata.deviceId ?? null,
        bodyPart: metadata.bodyPart,
        view: metadata.view,
        priority: metadata.priority,
        notes: metadata.notes ?? null,
        contentType: content.contentType,
        sizeBytes: content.sizeBytes,
        sha256: content.sha256,
        dicom: content.dicom,
        link,
        identity,
        objectKey: input.objectKey,
        ...input.sealed,
      });
      // The X-ray, its events and its audit event exist together or not at all; the audit append
      // goes last before COMMIT (it takes the chain's lock).
      if (!row) return row;
      // The recovery record before the row commits: a committed X-ray can always be given its row
      // back from the store (a restore from an older database backup). One small PUT (on disk a
      // write and three fsyncs), written while the statements below run.
      const recorded = writeRecord(deps.store, deps.keys, row);
      const indexed = (async () => {
        if (row.link.status === 'pending') await xrayLinkRepository.schedulePending(tx, row.id);
        // The DICOMweb index (QIDO-RS, WADO-RS /metadata) commits with the X-ray; a delete cascades to it.
        // Its SOP Instance UID held by another file: stored all the same, and said so.
        row.dicomUidConflict = await indexDicomInstance(tx, row.id, content.dicomHeader);
      })();
      // Both settled before either failure is thrown: a record still being written when the
      // failure's clean-up removes the X-ray's objects would be left behind. The statements'
      // failure first: the transaction judges its connection (timed out, broken) by what it gets.
      const [record, index] = await Promise.allSettled([recorded, indexed]);
      if (index.status === 'rejected') {
        if (record.status === 'rejected')
          deps.log.warn({ err: record.reason, xrayId: row.id }, 'the recovery record could not be written either');
        throw index.reason;
      }
      if (record.status === 'rejected') throw record.reason;
      // The object's own bytes durable too, before the change-feed counter is taken (held to COMMIT).
      await input.durable;
      // Numbered in the change feed after the PUT (the counter is held until COMMIT); refused
      // (410) if this id was deleted, even by a delete that committed while this was stored.
      row.changeSeq = await xrayChangeRepository.record(tx, {
        xrayId: row.id,
        kind: 'created',
        actorSub: input.actor.sub,
        ownerSub: row.capturedBy.sub,
      });
      await deps.outbox.append(tx, xrayUploaded(row));
      const invalid = linkInvalidIfSo(row);
      if (invalid) await deps.outbox.append(tx, invalid);
      const mismatch = identityMismatchIfNew(undefined, row, 'upload');
      if (mismatch) await deps.outbox.append(tx, mismatch);
      await appendAudit(tx, createdEvent(audit, row, true));
      return row;
    }).catch(async (err: unknown) => {
      // Its id was deleted meanwhile: refused as the door refuses it, a 410 only for its capturer.
      if (isDomainError(err) && err.code === 'xray_deleted') return refuseAsDeleted(deps.pool, input.actor, input.id);
      throw err;
    });
    if (inserted) return { xray: inserted, created: true };

    // Someone stored this id first (a retry racing itself): keep theirs, drop ours.
    await discardObject(deps, input.id, input.objectKey);
    const existing = await xrayRepository.findById(deps.pool, input.id);
    if (!existing) {
      if (await xrayChangeRepository.isDeleted(deps.pool, input.id))
        await refuseAsDeleted(deps.pool, input.actor, input.id);
      throw new DomainError('conflict', `X-ray ${input.id} changed while it was being stored; retry.`);
    }
    const xray = repeatOf(input.actor, existing, metadata, content.sha256);
    await recordAudit(deps.pool, createdEvent(audit, xray, false));
    return { xray, created: false };
  } catch (err) {
    // A COMMIT sent but never answered may still land: the object then belongs to a stored X-ray.
    // Kept (an orphan at worst, which `xray-admin check` reports) rather than risk a row without its bytes.
    if (commitOutcomeUnknown(err)) {
      deps.log.error(
        { err, xrayId: input.id, key: input.objectKey },
        'an X-ray was sent to the database and no answer came: it may be stored; its object is kept',
      );
      throw err;
    }
    await discardObject(deps, input.id, input.objectKey).catch((e: unknown) =>
      deps.log.error({ err: e, key: input.objectKey }, 'could not remove the object of a failed upload'),
    );
    throw err;
  }
}

/**
 * Removes the object of an upload that did not become X-ray `id`, unless it did after all: the
 * same tus upload finalized twice (an empty PATCH at its end racing the last one) leaves the
 * stored X-ray pointing at this very object, and removing it would lose the image.
 */
export async function discardObject(deps: FinalizeDeps, id: string, objectKey: string): Promise<void> {
  const stored = await xrayRepository.findById(deps.pool, id);
  if (stored?.objectKey !== objectKey) {
    await deps.store.delete(objectKey);
    await deps.store.delete(recordKeyOf(objectKey));
  }
}

/** The audit event of a create; `created: false` is an idempotent repeat that stored nothing new. */
export function createdEvent(context: AuditContext, x: XrayRecord, created: boolean): AuditEventInput {
  return {
    context,
    action: 'xray.create',
    outcome: 'success',
    xrayId: x.id,
    patientId: x.patientId,
    details: {
      created,
      contentType: x.contentType,
      sizeBytes: x.sizeBytes,
      sha256: x.sha256,
      // What the paramedic decided about the patient, and whether the file names another one.
      link: { status: x.link.status, ...(x.link.reason ? { reason: x.link.reason } : {}) },
      ...(x.link.decision ? { patientDecision: x.link.decision } : {}),
      identity: identityAudit(x.identity),
    },
  };
}

/**
 * What the audit trail keeps of the identity check: status, the fields that differ (names), and
 * the device's override whole (who sent it, when it was decided, why, which fields).
 */
export function identityAudit(i: XrayRecord['identity']): Record<string, unknown> {
  return {
    status: i.status,
    fields: i.fields.map((f) => f.field),
    ...(i.reason ? { reason: i.reason } : {}),
    overridden: i.overridden,
    ...(i.override
      ? {
          override: {
            by: i.override.by.sub,
            decidedAt: i.override.decidedAt,
            reason: i.override.reason,
            fields: i.override.fields,
            from: i.override.from,
          },
        }
      : {}),
  };
}
