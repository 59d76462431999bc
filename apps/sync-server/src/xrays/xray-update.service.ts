import { identityBrief, type Link, type XrayUpdate } from '@xray/shared';
import { appendAudit, type AuditContext } from '../audit/audit.service.ts';
import { inTransaction, type Pool } from '../db/pool.ts';
import { DomainError, noSuch } from '../errors.ts';
import type { OutboxWriter } from '../events/outbox.repository.ts';
import { identityMismatchIfNew, linkChangeOf, linkInvalidIfSo, xrayUpdated } from '../events/xray.events.ts';
import { decideIdentity } from '../ingest/identity.ts';
import { storedLink, type LinkVerifier } from '../integrations/link.verifier.ts';
import type { KeyService } from '../keys/key.service.ts';
import type { ObjectStore } from '../storage/index.ts';
import { xrayChangeRepository } from './xray-changes.repository.ts';
import { xrayLinkRepository, type XrayCorrection } from './xray-link.repository.ts';
import { writeRecord } from './xray-record.ts';
import type { XrayRecord } from './xray.repository.ts';

export interface XrayUpdateDeps {
  pool: Pool;
  links: LinkVerifier;
  outbox: OutboxWriter;
  /** Where the recovery record is kept current (xrays/xray-record.ts). */
  store: ObjectStore;
  keys: KeyService;
}

const FIELDS = ['patientId', 'consultationId', 'bodyPart', 'view', 'notes'] as const;
type Field = (typeof FIELDS)[number];

function apply(current: XrayRecord, changes: XrayUpdate): Omit<XrayCorrection, 'link' | 'identity'> {
  return {
    patientId: changes.patientId ?? current.patientId,
    consultationId: changes.consultationId === undefined ? current.consultationId : changes.consultationId,
    bodyPart: changes.bodyPart ?? current.bodyPart,
    view: changes.view ?? current.view,
    notes: changes.notes === undefined ? current.notes : changes.notes,
  };
}

/** The refusal of a change (PATCH, DELETE) whose If-Match names another version than the X-ray's. */
export const changedSinceRead = (): DomainError =>
  new DomainError(
    'precondition_failed',
    'The X-ray changed since the version named in If-Match was read; nothing was changed. Read it again (GET /xrays/{id}), then decide.',
  );

const sameIds = (a: { patientId: string; consultationId: string | null }, b: typeof a): boolean =>
  a.patientId === b.patientId && a.consultationId === b.consultationId;

/**
 * Corrects an X-ray's metadata (PATCH /xrays/{id}). A new patient or consultation is checked
 * against the Patient Service first, outside the transaction and within the short inline budget
 * (pending when it does not answer in time). Then, in ONE transaction: the row (locked), the
 * `xray.updated` event (and `xray.link_invalid` when the new link is invalid), and the audit
 * event with each changed field before and after.
 */
export async function updateXray(
  deps: XrayUpdateDeps,
  loaded: XrayRecord,
  changes: XrayUpdate,
  context: AuditContext,
  /** The client's condition on the version it read (If-Match): checked now and again under the row lock. */
  precondition?: (current: XrayRecord) => boolean,
): Promise<XrayRecord> {
  if (precondition && !precondition(loaded)) throw changedSinceRead();
  const wanted = apply(loaded, changes);
  const checked =
    deps.links.enabled && !sameIds(wanted, loaded)
      ? { ids: wanted, link: await deps.links.verify(wanted.patientId, wanted.consultationId, 'inline') }
      : undefined;

  return inTransaction(deps.pool, async (tx) => {
    const current = await xrayLinkRepository.lockById(tx, loaded.id);
    if (!current) throw noSuch('X-ray');
    // Another correction (or the link check) committed since the client read it: nothing applied.
    if (precondition && !precondition(current)) throw changedSinceRead();
    // Applied to the row as it is now: a correction that committed meanwhile is kept.
    const next = apply(current, changes);
    let link: Link = current.link;
    let identity = current.identity;
    if (!sameIds(next, current)) {
      if (checked && sameIds(checked.ids, next)) link = checked.link;
      // The ids moved under us: what we checked is not what is stored; the checker settles it.
      else link = deps.links.enabled ? { status: 'pending', reason: 'changed_concurrently' } : { status: 'unchecked' };
      // The file's own PatientID still counts: a correction never makes a mismatched file verified.
      const issuer = deps.links.patientIdIssuer;
      link = storedLink(link, { patientId: next.patientId, dicom: current.dicom }, current, issuer);
      // The file against the new patient; the device's override stays only while its patient stays.
      const override = next.patientId === current.patientId ? current.identity.override : undefined;
      identity = decideIdentity({ dicom: current.dicom, patientId: next.patientId, issuer, link, override });
    }

    const before: Partial<Record<Field | 'link' | 'identity', unknown>> = {};
    const after: Partial<Record<Field | 'link' | 'identity', unknown>> = {};
    for (const f of FIELDS) {
      if (next[f] !== current[f]) {
        before[f] = current[f];
        after[f] = next[f];
      }
    }
    const linkChange = linkChangeOf(current.link, link);
    if (linkChange) {
      before.link = linkChange.before;
      after.link = linkChange.after;
    }
    // Status and field names only: the values name the patient.
    const identityChanged = JSON.stringify(identityBrief(identity)) !== JSON.stringify(identityBrief(current.identity));
    if (identityChanged) {
      before.identity = identityBrief(current.identity);
      after.identity = identityBrief(identity);
    }

    const updated = Object.keys(after).length
      ? await xrayLinkRepository.update(tx, current.id, { ...next, link, identity })
      : current;
    if (Object.keys(after).length) {
      // The recovery record follows the row, written under the row lock before it commits (a record
      // newer than its row, should the COMMIT fail, is put right by `xray-admin recover`).
      await writeRecord(deps.store, deps.keys, updated);
      // Numbered in the change feed after the PUT (the counter is held until COMMIT).
      updated.changeSeq = await xrayChangeRepository.record(tx, {
        xrayId: updated.id,
        kind: 'updated',
        actorSub: context.actor?.sub ?? null,
        ownerSub: updated.capturedBy.sub,
      });
      const by = context.actor ? { sub: context.actor.sub } : null;
      const changeSet = Object.fromEntries(
        Object.keys(after).map((k) => [k, { before: Reflect.get(before, k), after: Reflect.get(after, k) }]),
      );
      await deps.outbox.append(tx, xrayUpdated(updated, changeSet, 'correction', by));
      const invalid = linkChange || !sameIds(next, current) ? linkInvalidIfSo(updated) : undefined;
      if (invalid) await deps.outbox.append(tx, invalid);
      const mismatch = identityMismatchIfNew(current.identity, updated, 'correction');
      if (mismatch) await deps.outbox.append(tx, mismatch);
    }
    // Last before COMMIT (it takes the audit chain's lock).
    await appendAudit(tx, {
      context,
      action: 'xray.update',
      outcome: 'success',
      xrayId: updated.id,
      patientId: updated.patientId,
      details: { before, after, changed: Object.keys(after) },
    });
    return updated;
  });
}
