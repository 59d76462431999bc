import type { Readable } from 'node:stream';
import { z } from 'zod';
import { XrayIdSchema, type XrayListQuery, type XrayUpdate } from '@xray/shared';
import { appendAudit, systemContext, type AuditContext } from '../audit/audit.service.ts';
import type { Pool } from '../db/pool.ts';
import { inTransaction } from '../db/pool.ts';
import { DomainError, noSuch } from '../errors.ts';
import type { OutboxWriter } from '../events/outbox.repository.ts';
import { xrayDeleted } from '../events/xray.events.ts';
import type { LinkVerifier } from '../integrations/link.verifier.ts';
import { openStoredXre1 } from '../ingest/xre1.fast.ts';
import { rawDekBytes } from '../ingest/xre1.node.ts';
import type { KeyService } from '../keys/key.service.ts';
import type { Logger } from '../observability/logger.ts';
import type { ByteRange, ObjectStore } from '../storage/index.ts';
import { xrayRepository, type ListPage, type XrayRecord } from './xray.repository.ts';
import { updateXray } from './xray-update.service.ts';

export interface XrayServiceDeps {
  pool: Pool;
  store: ObjectStore;
  keys: KeyService;
  log: Logger;
  links: LinkVerifier;
  outbox: OutboxWriter;
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

/**
 * What a cursor decodes to, exactly as `encode` writes it: the last item's capturedAt as
 * Date#toISOString gives it (a real instant PostgreSQL can read) and its id. Not signed: a
 * well-formed cursor is only a position in a list the caller's scope already confines.
 */
const CursorSchema = z.tuple([
  z.iso
    .datetime({ precision: 3 })
    .refine((v) => !v.startsWith('0000') && new Date(v).toISOString() === v, 'is not an instant'),
  XrayIdSchema,
]);

/** Opaque keyset cursor: base64url of the last item's (capturedAt, id). */
export const cursor = {
  encode: (next: NonNullable<ListPage['next']>): string =>
    Buffer.from(JSON.stringify([next.capturedAt, next.id])).toString('base64url'),
  decode(raw: string): { capturedAt: string; id: string } {
    try {
      const text = Buffer.from(raw, 'base64url').toString('utf8');
      const v = CursorSchema.safeParse(JSON.parse(text));
      // Only what encode() would have written: the same JSON, the same base64url.
      if (v.success) {
        const [capturedAt, id] = v.data;
        if (cursor.encode({ capturedAt, id }) === raw) return { capturedAt, id };
      }
    } catch {
      // not JSON: fall through to the refusal below
    }
    throw new DomainError('validation_failed', 'The cursor is not one this server issued.', [
      { field: 'cursor', message: 'is not a cursor this server issued' },
    ]);
  },
};

export function createXrayService(deps: XrayServiceDeps) {
  return {
    async get(id: string): Promise<XrayRecord> {
      const x = await xrayRepository.findById(deps.pool, id);
      if (!x) throw noSuch('X-ray');
      return x;
    },

    async list(
      q: XrayListQuery,
      scope: { capturedBy?: string } = {},
    ): Promise<{ items: XrayRecord[]; nextCursor: string | null }> {
      const { cursor: raw, ...filters } = q;
      const page = await xrayRepository.list(deps.pool, {
        ...filters,
        ...scope,
        ...(raw ? { after: cursor.decode(raw) } : {}),
      });
      return { items: page.items, nextCursor: page.next ? cursor.encode(page.next) : null };
    },

    /** The plaintext bytes, whole or a range (already validated against sizeBytes). */
    async openContent(x: XrayRecord, range?: ByteRange): Promise<Readable> {
      const dek = await deps.keys.unwrapDek(x.dekWrapped, x.kekId);
      // Decrypts only the segments the range touches (all of them for a full download).
      return openStoredXre1(deps.store, x.objectKey, await rawDekBytes(dek), x.cipherSize, range);
    },

    /** Corrects patientId, consultationId, bodyPart, view, notes (the caller has authorized it). */
    update(x: XrayRecord, changes: XrayUpdate, context: AuditContext): Promise<XrayRecord> {
      return updateXray(deps, x, changes, context);
    },

    /**
     * Removes the row, then the object. A crash between the two leaves an object with no row, never a row with no object.
     * The audit event commits with the row's removal; the trail itself is never deleted.
     */
    async delete(id: string, context: AuditContext = systemContext()): Promise<XrayRecord> {
      const removed = await inTransaction(deps.pool, async (tx) => {
        const row = await xrayRepository.delete(tx, id);
        if (row) {
          await deps.outbox.append(tx, xrayDeleted(row, context.actor ? { sub: context.actor.sub } : null));
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
      if (!removed) throw noSuch('X-ray');
      await deps.store
        .delete(removed.objectKey)
        .catch((err: unknown) =>
          deps.log.error({ err, key: removed.objectKey }, 'X-ray row deleted but its object could not be removed'),
        );
      return removed;
    },
  };
}
export type XrayService = ReturnType<typeof createXrayService>;
