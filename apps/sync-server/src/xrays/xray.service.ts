import type { Readable } from 'node:stream';
import { z } from 'zod';
import {
  LIST_ORDERS,
  XrayIdSchema,
  Xre1Error,
  type ChangeFeedQuery,
  type XrayListQuery,
  type XrayUpdate,
} from '@xray/shared';
import { appendAudit, systemContext, type AuditContext } from '../audit/audit.service.ts';
import type { Pool } from '../db/pool.ts';
import { commitOutcomeUnknown, inTransaction } from '../db/pool.ts';
import { DomainError, isDomainError, noSuch } from '../errors.ts';
import type { OutboxWriter } from '../events/outbox.repository.ts';
import { xrayDeleted } from '../events/xray.events.ts';
import type { LinkVerifier } from '../integrations/link.verifier.ts';
import { holderHandover, recordConflictFlips } from '../dicomweb/uid-conflict.changes.ts';
import { removeRenders } from '../rendering/render.cache.ts';
import { openStoredXre1, type OpenStoredOptions, StoredObjectMismatchError } from '../xre1/index.ts';
import { wrapFormatOf } from '../keys/dek-wrap.ts';
import { refreshBoundOnly } from '../keys/kek-check.ts';
import type { KeyService } from '../keys/key.service.ts';
import type { Logger } from '../observability/logger.ts';
import type { IntegrityCheck, Metrics } from '../observability/metrics.ts';
import type { ByteRange, ObjectStore } from '../storage/index.ts';
import { recordKeyOf, tombstoneKeyOf, writeTombstone } from './xray-record.ts';
import { xrayChangeRepository, type ChangeEntry } from './xray-changes.repository.ts';
import { createXrayLoader } from './xray.loader.ts';
import { xrayRepository, type ListPosition, type XrayRecord } from './xray.repository.ts';
import { changedSinceRead, updateXray } from './xray-update.service.ts';

export interface XrayServiceDeps {
  pool: Pool;
  store: ObjectStore;
  keys: KeyService;
  log: Logger;
  links: LinkVerifier;
  outbox: OutboxWriter;
  metrics: Metrics;
}

export function parseXrayId(raw: string): string {
  const parsed = XrayIdSchema.safeParse(raw);
  // The raw value is not echoed: it may hold anything, control characters included.
  if (!parsed.success)
    throw new DomainError('bad_request', 'The path does not name an X-ray id (a UUID).', [
      { field: 'id', message: 'must be a UUID' },
    ]);
  return parsed.data;
}

const instant = z.iso
  .datetime({ precision: 3 })
  // (zod runs a refinement even after the format failed: no toISOString of an invalid date.)
  .refine(
    (v) => !v.startsWith('0000') && !Number.isNaN(Date.parse(v)) && new Date(v).toISOString() === v,
    'is not an instant',
  );
/**
 * What a cursor decodes to, exactly as `encode` writes it. By capture time: the last item's
 * capturedAt as Date#toISOString gives it (a real instant PostgreSQL can read) and its id, plus
 * `asc` for the ascending order (the default newest-first order keeps its original form). By
 * change sequence: `seq`, the number, the order. Not signed: a well-formed cursor is only a
 * position in a list the caller's scope already confines.
 */
const CapturedCursorSchema = z.union([
  z.tuple([instant, XrayIdSchema]),
  z.tuple([instant, XrayIdSchema, z.literal('asc')]),
]);
const ChangeCursorSchema = z.tuple([
  z.literal('seq'),
  z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  z.enum(LIST_ORDERS),
]);

type Order = (typeof LIST_ORDERS)[number];

const notIssued = (message = 'is not a cursor this server issued') =>
  new DomainError('validation_failed', 'The cursor is not one this server issued for this list.', [
    { field: 'cursor', message },
  ]);

/** Opaque keyset cursor: base64url of where the last item is, in which order. */
export const cursor = {
  encode(next: ListPosition, order: Order = 'desc'): string {
    const v =
      next.by === 'change'
        ? ['seq', next.seq, order]
        : order === 'asc'
          ? [next.capturedAt, next.id, 'asc']
          : [next.capturedAt, next.id];
    return Buffer.from(JSON.stringify(v)).toString('base64url');
  },
  /** The position `raw` names; refused unless it was issued for a list in this very order. */
  decode(raw: string, expected: { by: ListPosition['by']; order: Order } = { by: 'captured', order: 'desc' }) {
    let position: ListPosition | undefined;
    let order: Order = 'desc';
    try {
      const json: unknown = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
      const change = ChangeCursorSchema.safeParse(json);
      const captured = change.success ? undefined : CapturedCursorSchema.safeParse(json);
      if (change.success) {
        position = { by: 'change', seq: change.data[1] };
        order = change.data[2];
      } else if (captured?.success) {
        position = { by: 'captured', capturedAt: captured.data[0], id: captured.data[1] };
        order = captured.data.length === 3 ? 'asc' : 'desc';
      }
    } catch {
      // not JSON: refused below
    }
    // Only what encode() would have written: the same JSON, the same base64url.
    if (!position || cursor.encode(position, order) !== raw) throw notIssued();
    if (position.by !== expected.by || order !== expected.order)
      throw notIssued('belongs to a list in another order (changedSince, order): start again without it');
    return position;
  },
};

export function createXrayService(deps: XrayServiceDeps) {
  /** A stored X-ray that is not what its row says: logged and counted wherever it is found. */
  const integrityFailed = (x: XrayRecord, check: IntegrityCheck, err: unknown): void => {
    deps.metrics.integrityFailures.inc({ check });
    deps.log.error(
      { err, xrayId: x.id, objectKey: x.objectKey, kekId: x.kekId, check },
      'stored X-ray failed an integrity check',
    );
  };

  /**
   * The X-ray's data key, from a wrap that must be bound to this X-ray and object. A replica that
   * does not have a rotation's new KEK yet reads through the wrap the rotation kept — only when that
   * wrap is bound: the row's kek_id is as writable as the rest of the row, and an unbound previous
   * wrap is bound to no X-ray. An unbound wrap opens only under a KEK that does not take bound
   * wraps only (kek_bound_only, read again first: another process may have finished binding).
   */
  const unsealDek = async (x: XrayRecord): Promise<CryptoKey> => {
    const prev = x.previousWrap;
    const wrap =
      !deps.keys.hasKek(x.kekId) && prev && wrapFormatOf(prev.dekWrapped) === 'bound-v1' && deps.keys.hasKek(prev.kekId)
        ? prev
        : x;
    try {
      if (wrapFormatOf(wrap.dekWrapped) === 'aes-kw') await refreshBoundOnly(deps.pool, deps.keys);
      return await deps.keys.unwrapDek(wrap.dekWrapped, wrap.kekId, { xrayId: x.id, objectKey: x.objectKey });
    } catch (err) {
      if (isDomainError(err) && err.code === 'integrity_failed') integrityFailed(x, 'key_binding', err);
      throw err;
    }
  };

  const load = createXrayLoader(deps.pool);

  return {
    async get(id: string): Promise<XrayRecord> {
      const x = await load(id);
      if (!x) throw noSuch('X-ray');
      return x;
    },

    async list(
      q: XrayListQuery,
      scope: { capturedBy?: string } = {},
    ): Promise<{ items: XrayRecord[]; nextCursor: string | null }> {
      const { cursor: raw, order: asked, ...filters } = q;
      const by = q.changedSince === undefined ? 'captured' : 'change';
      // A change-ordered list is read oldest change first unless asked otherwise.
      const order = asked ?? (by === 'change' ? 'asc' : 'desc');
      const page = await xrayRepository.list(deps.pool, {
        ...filters,
        ...scope,
        order,
        ...(raw ? { after: cursor.decode(raw, { by, order }) } : {}),
      });
      return { items: page.items, nextCursor: page.next ? cursor.encode(page.next, order) : null };
    },

    /** A page of the change feed after `after`; `scope` confines it as it confines the list. */
    async changes(
      q: ChangeFeedQuery,
      scope: { capturedBy?: string } = {},
    ): Promise<{ items: ChangeEntry[]; next: number; more: boolean }> {
      const items = await xrayChangeRepository.page(deps.pool, {
        after: q.after,
        limit: q.limit,
        ...(scope.capturedBy !== undefined ? { ownerSub: scope.capturedBy } : {}),
      });
      return { items, next: items.at(-1)?.seq ?? q.after, more: items.length === q.limit };
    },

    /**
     * The plaintext bytes, whole or a range (already validated against sizeBytes). Before anything
     * is released: the data key must be bound to this X-ray and object, and the object must be as
     * long as the row says. A whole read is hashed as it goes and fails (its last segment withheld)
     * unless it is the recorded sha256; a partial Range cannot be checked against the whole hash,
     * only segment by segment (each authenticated under this X-ray's own data key). `clientPaced`:
     * the stream goes to a client at its pace (a download), so its store read stays off the
     * connections uploads and the server's own reads use (GetOptions.clientPaced).
     */
    async openContent(
      x: XrayRecord,
      range?: ByteRange,
      opts: Pick<OpenStoredOptions, 'clientPaced'> = {},
    ): Promise<Readable> {
      // Non-extractable: node:crypto opens the segments with the CryptoKey itself, so the key's
      // bytes never sit in a Buffer of ours.
      const dek = await unsealDek(x);
      let content: Readable;
      try {
        content = await openStoredXre1(deps.store, x.objectKey, dek, x.cipherSize, range, {
          sha256: x.sha256,
          checkStoredLength: true,
          clientPaced: opts.clientPaced === true,
        });
      } catch (err) {
        if (err instanceof StoredObjectMismatchError) {
          integrityFailed(x, err.check, err);
          const message = `The stored object of X-ray ${x.id} is not the one recorded for it; nothing of it is served.`;
          throw new DomainError('integrity_failed', message, undefined, { cause: err });
        }
        if (err instanceof Xre1Error) integrityFailed(x, 'ciphertext', err);
        throw err;
      }
      // Mid-stream: the response is cut off by whoever reads this (the download route).
      content.once('error', (err) => {
        if (err instanceof StoredObjectMismatchError) integrityFailed(x, err.check, err);
        else if (err instanceof Xre1Error) integrityFailed(x, 'ciphertext', err);
      });
      return content;
    },

    /**
     * Corrects patientId, consultationId, bodyPart, view, notes (the caller has authorized it);
     * only if `precondition` holds for the X-ray as it is when locked (If-Match), when given.
     */
    update(
      x: XrayRecord,
      changes: XrayUpdate,
      context: AuditContext,
      precondition?: (current: XrayRecord) => boolean,
    ): Promise<XrayRecord> {
      return updateXray(deps, x, changes, context, precondition);
    },

    /**
     * Removes the row, then the object. A crash between the two leaves an object with no row, never a row with no object.
     * The audit event commits with the row's removal; the trail itself is never deleted.
     * First a tombstone goes beside the object (xrays/xray-record.ts), kept for good: a restore from
     * a database backup taken before this delete still learns of it (`xray-admin recover` re-applies
     * it). It is written `pending`, marked `committed` once the delete commits and before the object
     * goes (a pending one left by a crash before COMMIT never erases the X-ray), and removed again
     * when the delete does not commit.
     */
    async delete(
      id: string,
      context: AuditContext = systemContext(),
      /** The client's condition on the version it read (If-Match): checked now and on the row removed. */
      precondition?: (current: XrayRecord) => boolean,
    ): Promise<XrayRecord> {
      const before = await xrayRepository.findById(deps.pool, id);
      if (!before) throw noSuch('X-ray');
      if (precondition && !precondition(before)) throw changedSinceRead();
      const by = context.actor?.sub ?? null;
      await writeTombstone(deps.store, deps.keys, before, by, 'pending');
      let removed: XrayRecord | null;
      try {
        removed = await inTransaction(deps.pool, async (tx) => {
          // The SOP Instance UID it holds, if any: the next file under it takes it, and the X-rays
          // whose dicomUidConflict that changes say so (uid-conflict.changes.ts).
          const handover = await holderHandover(tx, id);
          const row = await xrayRepository.delete(tx, id);
          // The row as the DELETE locked it: a change committed since the check above is not deleted unseen.
          if (row && precondition && !precondition(row)) throw changedSinceRead();
          if (row) {
            // The X-rays whose flag its deletion turns, their rows locked before the change counter.
            const flips = await handover.flips();
            // Its events not yet pruned keep no notes (nor DICOM summary) once it is gone.
            await deps.outbox.scrubXray(tx, row.id);
            // The tombstone: numbered in the change feed (late: the counter is held until COMMIT),
            // and what refuses a late upload of this id.
            row.changeSeq = await xrayChangeRepository.record(tx, {
              xrayId: row.id,
              kind: 'deleted',
              actorSub: context.actor?.sub ?? null,
              ownerSub: row.capturedBy.sub,
            });
            const by = context.actor ? { sub: context.actor.sub } : null;
            await deps.outbox.append(tx, xrayDeleted(row, by));
            await recordConflictFlips(tx, deps.outbox, flips, context, by);
            await appendAudit(tx, {
              context,
              action: 'xray.delete',
              outcome: 'success',
              xrayId: row.id,
              patientId: row.patientId,
              details: { sha256: row.sha256, sizeBytes: row.sizeBytes, capturedBy: row.capturedBy.sub },
            });
          }
          return row;
        });
      } catch (err) {
        // A COMMIT sent but never answered may still land: the pending tombstone is then what keeps
        // the X-ray erased (`recover` settles it either way: row still here, or the delete audited).
        if (!commitOutcomeUnknown(err))
          await deps.store.delete(tombstoneKeyOf(before.objectKey)).catch(() => undefined);
        throw err;
      }
      if (!removed) {
        await deps.store.delete(tombstoneKeyOf(before.objectKey)).catch(() => undefined);
        throw noSuch('X-ray');
      }
      const gone = removed;
      // Deleted and stored again under the same id meanwhile: the row removed is that one.
      if (gone.objectKey !== before.objectKey)
        await deps.store.delete(tombstoneKeyOf(before.objectKey)).catch(() => undefined);
      // Committed: `recover` re-applies it even over a row restored from before this delete. Should
      // this PUT fail, the object's absence (erased below, only after a COMMIT) says the same.
      await writeTombstone(deps.store, deps.keys, gone, by, 'committed').catch((err: unknown) =>
        deps.log.error({ err, key: gone.objectKey }, 'X-ray deleted but its tombstone could not be marked committed'),
      );
      for (const key of [gone.objectKey, recordKeyOf(gone.objectKey)]) {
        await deps.store
          .delete(key)
          .catch((err: unknown) =>
            deps.log.error({ err, key }, 'X-ray row deleted but its object could not be removed'),
          );
      }
      // Its rendered images (encrypted cache entries): listed after the COMMIT, so a render finishing
      // now either is found here or finds the row gone and removes its own entry (render.service.ts).
      await removeRenders(deps.store, gone.id).catch((err: unknown) =>
        deps.log.error({ err, xrayId: gone.id }, 'X-ray deleted but its rendered images could not be removed'),
      );
      return gone;
    },
  };
}
export type XrayService = ReturnType<typeof createXrayService>;
