import type { Readable } from 'node:stream';
import { dicomTagsOf, identityBrief, type DicomTags, type Identity, type Link } from '@xray/shared';
import { appendAudit, systemContext } from '../audit/audit.service.ts';
import { inTransaction, type Pool, type PoolClient } from '../db/pool.ts';
import { readStoredDicomHeader } from '../dicomweb/dicom-index.backfill.ts';
import { isDomainError } from '../errors.ts';
import type { OutboxWriter } from '../events/outbox.repository.ts';
import { identityMismatchIfNew, xrayUpdated } from '../events/xray.events.ts';
import { storedLink, type LinkVerifier } from '../integrations/link.verifier.ts';
import type { ByteRange } from '../storage/index.ts';
import { xrayChangeRepository } from '../xrays/xray-changes.repository.ts';
import { xrayLinkRepository } from '../xrays/xray-link.repository.ts';
import { toRecord, type XrayRecord, type XrayRow } from '../xrays/xray.repository.ts';
import { decideIdentity, overrideOf } from './identity.ts';

/** The reason of an identity never checked (migration 1732680012000_identity.sql, a recovered old record). */
export const NOT_CHECKED_REASON = 'not_checked';

/** Who the audit trail names for the check (a system change, as `xray-admin recover` is). */
const ACTOR = { sub: 'xray-admin identity-check', roles: ['admin'] };

export interface IdentityBackfillDeps {
  pool: Pool;
  /** The Patient Service client of the server's configuration (integrations.ts), as ingest asks it. */
  links: LinkVerifier;
  outbox: OutboxWriter;
  get(id: string): Promise<XrayRecord>;
  /** XrayService.openContent: decrypts the stored object (only the segments the range touches). */
  openContent(x: XrayRecord, range?: ByteRange): Promise<Readable>;
}

export interface IdentityBackfillReport {
  checked: number;
  consistent: number;
  mismatch: { id: string; fields: string[] }[];
  unknown: number;
  /** Left not_checked: unreadable header, the Patient Service not answering... (no patient data in the error). */
  failed: { id: string; error: string }[];
  /** Set when the run stopped early: the Patient Service failed this many times in a row (the rest were not tried). */
  stoppedAfterServiceFailures?: number;
}

/** Patient Service failures in a row after which a run stops: an outage would otherwise wait out every X-ray's timeout. */
export const MAX_SERVICE_FAILURES_IN_A_ROW = 5;

const errorOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** An error whose message names no patient: the Patient Service did not answer for this X-ray. */
class PatientServiceUnavailable extends Error {}

/** The X-rays whose identity was never checked, in id order after `after`. */
async function notChecked(db: Pool, after: string | null, limit: number): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM xrays WHERE identity->>'status' = 'unknown' AND identity->>'reason' = $1 AND ($2::uuid IS NULL OR id > $2::uuid) ORDER BY id LIMIT $3`,
    [NOT_CHECKED_REASON, after, limit],
  );
  return rows.map((r) => r.id);
}

async function setIdentity(tx: PoolClient, id: string, identity: Identity): Promise<XrayRecord> {
  const { rows } = await tx.query<XrayRow>('UPDATE xrays SET identity = $2 WHERE id = $1 RETURNING *', [
    id,
    JSON.stringify(identity),
  ]);
  if (!rows[0]) throw new Error(`X-ray ${id} vanished while locked`);
  return toRecord(rows[0]);
}

/**
 * Decides the identity of one stored X-ray as finalize did not (stored before identity was
 * checked): the file's tags from its stored header (decrypted to the pixel data, never the
 * pixels), the Patient Service's record asked for as a link check asks (background: the
 * configured timeout and retries), the paramedic's decision sent with it as ingest reads it.
 */
async function decideStored(deps: IdentityBackfillDeps, x: XrayRecord): Promise<Identity> {
  // A PNG or JPEG names no patient: `not_dicom`, as ingest decides it, without asking anyone.
  const dicom: DicomTags | null =
    x.contentType === 'application/dicom' ? dicomTagsOf(await readStoredDicomHeader(deps, x)) : null;
  let link: Link = { status: 'unchecked' };
  if (dicom && deps.links.enabled) {
    const checked = await deps.links.verify(x.patientId, x.consultationId, 'background');
    if (checked.status === 'pending')
      throw new PatientServiceUnavailable('the Patient Service did not answer; its identity stays not_checked');
    link = storedLink(checked, { patientId: x.patientId, dicom }, x, deps.links.patientIdIssuer);
  }
  const override =
    x.identity.override ??
    overrideOf(
      {
        patientId: x.patientId,
        capturedAt: x.capturedAt,
        ...(x.link.decision
          ? {
              patientDecision: x.link.decision.choice,
              ...(x.link.decision.reason ? { patientDecisionReason: x.link.decision.reason } : {}),
            }
          : {}),
      },
      x.capturedBy,
      dicom,
    );
  return decideIdentity({ dicom, patientId: x.patientId, issuer: deps.links.patientIdIssuer, link, override });
}

/**
 * `xray-admin identity-check`: checks the identity of every X-ray stored before identity was
 * checked at ingest (`unknown`, reason `not_checked`). Each decided one is written in its own
 * transaction with a change-feed entry (`updated`, the X-ray's `identity` is in the feed), an
 * `xray.updated` event (cause `identity_check`, identity before and after as status and field
 * names), the `xray.identity_mismatch` event when it is one (cause `identity_check`, no demographics) and an
 * `xray.update` audit event (cause `identity_check`, identity before and after as status and field
 * names). One that cannot be decided (its header unreadable, the Patient Service not answering)
 * stays not_checked and is reported. After `maxServiceFailuresInARow` (5) Patient Service failures
 * in a row the run stops (`stoppedAfterServiceFailures`): the rest stay not_checked for a later run.
 * A second run finds nothing left. `dryRun`: decides, writes nothing.
 */
export async function backfillIdentity(
  deps: IdentityBackfillDeps,
  opts: { dryRun?: boolean; batch?: number; maxServiceFailuresInARow?: number } = {},
): Promise<IdentityBackfillReport> {
  const report: IdentityBackfillReport = { checked: 0, consistent: 0, mismatch: [], unknown: 0, failed: [] };
  const batch = opts.batch ?? 100;
  const maxServiceFailures = opts.maxServiceFailuresInARow ?? MAX_SERVICE_FAILURES_IN_A_ROW;
  let serviceFailures = 0;
  let after: string | null = null;
  for (;;) {
    const ids = await notChecked(deps.pool, after, batch);
    if (ids.length === 0) return report;
    for (const id of ids) {
      after = id;
      try {
        const x = await deps.get(id);
        const identity = await decideStored(deps, x);
        // The Patient Service answered (when it was asked): an outage's count starts again.
        if (x.contentType === 'application/dicom' && deps.links.enabled) serviceFailures = 0;
        const written = opts.dryRun ? identity : await write(deps, x, identity);
        if (!written) continue;
        report.checked++;
        if (written.status === 'consistent') report.consistent++;
        else if (written.status === 'mismatch')
          report.mismatch.push({ id, fields: written.fields.map((f) => f.field) });
        else report.unknown++;
      } catch (err) {
        // Deleted since it was listed: nothing left to check.
        if (isDomainError(err) && err.code === 'not_found') continue;
        // One X-ray that cannot be checked (deleted meanwhile, unreadable, no answer) does not stop the rest.
        report.failed.push({ id, error: errorOf(err) });
        if (err instanceof PatientServiceUnavailable && ++serviceFailures >= maxServiceFailures) {
          report.stoppedAfterServiceFailures = serviceFailures;
          return report;
        }
      }
    }
  }
}

/**
 * Writes `identity` under the row lock, unless the X-ray changed meanwhile (deleted, checked by a
 * correction or a link settling, moved to another patient): undefined then, nothing written.
 */
async function write(deps: IdentityBackfillDeps, read: XrayRecord, identity: Identity): Promise<Identity | undefined> {
  return inTransaction(deps.pool, async (tx) => {
    const current = await xrayLinkRepository.lockById(tx, read.id);
    if (!current || current.identity.reason !== NOT_CHECKED_REASON || current.patientId !== read.patientId)
      return undefined;
    const updated = await setIdentity(tx, current.id, identity);
    updated.changeSeq = await xrayChangeRepository.record(tx, {
      xrayId: updated.id,
      kind: 'updated',
      actorSub: null,
      ownerSub: updated.capturedBy.sub,
    });
    // As a PATCH or a settled link: the change's own xray.updated, so consumers learn the identity decided.
    const identityChange = { before: identityBrief(current.identity), after: identityBrief(updated.identity) };
    await deps.outbox.append(tx, xrayUpdated(updated, { identity: identityChange }, 'identity_check', null));
    const mismatch = identityMismatchIfNew(current.identity, updated, 'identity_check');
    if (mismatch) await deps.outbox.append(tx, mismatch);
    // Last before COMMIT (it takes the audit chain's lock). Status and field names only: the values name the patient.
    await appendAudit(tx, {
      context: systemContext(ACTOR),
      action: 'xray.update',
      outcome: 'success',
      xrayId: updated.id,
      patientId: updated.patientId,
      details: {
        cause: 'identity_check',
        before: { identity: identityBrief(current.identity) },
        after: { identity: identityBrief(identity) },
        changed: ['identity'],
      },
    });
    return identity;
  });
}
