import type { Readable } from 'node:stream';
import { dicomTagsOf, identityBrief, otherIssuer, type DicomTags, type Identity, type Link } from '@xray/shared';
import { appendAudit, systemContext } from '../audit/audit.service.ts';
import { inTransaction, type Pool, type PoolClient } from '../db/pool.ts';
import { readStoredDicomHeader } from '../dicomweb/dicom-index.backfill.ts';
import { isDomainError } from '../errors.ts';
import type { OutboxWriter } from '../events/outbox.repository.ts';
import { identityMismatchIfNew, linkChangeOf, linkInvalidIfSo, xrayUpdated } from '../events/xray.events.ts';
import { storedLink, type LinkVerifier } from '../integrations/link.verifier.ts';
import type { ByteRange } from '../storage/index.ts';
import { xrayChangeRepository } from '../xrays/xray-changes.repository.ts';
import { xrayLinkRepository } from '../xrays/xray-link.repository.ts';
import { toRecord, XRAY_ROW, type XrayRecord, type XrayRow } from '../xrays/xray.repository.ts';
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
  /**
   * Writes the X-ray's recovery record (xray-record.ts writeRecord): the row as written, under its
   * lock before COMMIT, as a PATCH does, so the record keeps up with the issuer recorded in `dicom`.
   */
  writeRecord(x: XrayRecord): Promise<void>;
}

export interface IdentityBackfillReport {
  checked: number;
  consistent: number;
  mismatch: { id: string; fields: string[] }[];
  unknown: number;
  /** Left as they were (not_checked...): unreadable header, the Patient Service not answering... (no patient data in the error). */
  failed: { id: string; error: string }[];
  /** Set when the run stopped early: the Patient Service failed this many times in a row (the rest were not tried). */
  stoppedAfterServiceFailures?: number;
  /** With `recheckIssuers`: how many headers of X-rays already checked (no issuer recorded) were read. */
  issuersRead?: number;
}

/** Patient Service failures in a row after which a run stops: an outage would otherwise wait out every X-ray's timeout. */
export const MAX_SERVICE_FAILURES_IN_A_ROW = 5;

const errorOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** An error whose message names no patient: the Patient Service did not answer for this X-ray. */
class PatientServiceUnavailable extends Error {}

/**
 * Which X-rays a run looks at:
 * - `not_checked`: never checked (every run);
 * - `recorded_issuer`: already checked, their recorded `dicom.issuerOfPatientId` another authority
 *   than PATIENT_ID_ISSUER, and their identity not saying so (decided before the setting was on;
 *   every run with the setting);
 * - `unrecorded_issuer`: already checked DICOMs whose row records no issuer (stored before it was
 *   recorded, or the file has none): their header is read, and only those another authority issued
 *   are decided again (`recheckIssuers`, with the setting).
 * Rows whose link is pending are left to the pending-link check (it applies the same rule).
 */
type Selection = 'not_checked' | 'recorded_issuer' | 'unrecorded_issuer';

const CHECKED_AND_SETTLED = `NOT (identity->>'status' = 'unknown' AND identity->>'reason' = '${NOT_CHECKED_REASON}') AND link->>'status' <> 'pending'`;

/** A page of the selection's X-rays, in id order after `after` (with their recorded issuer). */
async function select(
  db: Pool,
  selection: Selection,
  after: string | null,
  limit: number,
  /** PATIENT_ID_ISSUER: rows recording exactly it are ours without asking otherIssuer. */
  ours: string | null,
): Promise<{ id: string; issuer: string | null }[]> {
  const where =
    selection === 'not_checked'
      ? `identity->>'status' = 'unknown' AND identity->>'reason' = '${NOT_CHECKED_REASON}'`
      : selection === 'recorded_issuer'
        ? // otherIssuer decides in the caller; ruled out here: no id, the other_issuer hint already there, exactly ours.
          `${CHECKED_AND_SETTLED} AND dicom->>'issuerOfPatientId' IS NOT NULL AND dicom->>'patientId' IS NOT NULL
           AND NOT (identity->'fields' @> '[{"hint":"other_issuer"}]'::jsonb) AND dicom->>'issuerOfPatientId' <> $3`
        : `${CHECKED_AND_SETTLED} AND content_type = 'application/dicom' AND jsonb_typeof(dicom) = 'object'
           AND NOT (dicom ? 'issuerOfPatientId')`;
  const { rows } = await db.query<{ id: string; issuer: string | null }>(
    `SELECT id, dicom->>'issuerOfPatientId' AS issuer FROM xrays
      WHERE ${where} AND ($1::uuid IS NULL OR id > $1::uuid) ORDER BY id LIMIT $2`,
    selection === 'recorded_issuer' ? [after, limit, ours] : [after, limit],
  );
  return rows;
}

/**
 * The decided identity and link, and the file's issuer recorded in `dicom` when the row lacked it
 * (a row stored before issuers were recorded: a later correction decides from the row).
 */
async function setDecision(tx: PoolClient, id: string, d: StoredDecision, issuer: string | null): Promise<XrayRecord> {
  const { rows } = await tx.query<XrayRow>(
    `UPDATE xrays SET identity = $2, link = $3,
       link_recheck_at = CASE WHEN $3::jsonb->>'status' = 'pending' THEN link_recheck_at ELSE NULL END,
       link_attempts = CASE WHEN $3::jsonb->>'status' = 'pending' THEN link_attempts ELSE 0 END,
       dicom = CASE WHEN $4::text IS NULL THEN dicom ELSE jsonb_set(dicom, '{issuerOfPatientId}', to_jsonb($4::text)) END
     WHERE id = $1 RETURNING ${XRAY_ROW}`,
    [id, JSON.stringify(d.identity), JSON.stringify(d.link), issuer],
  );
  if (!rows[0]) throw new Error(`X-ray ${id} vanished while locked`);
  return toRecord(rows[0]);
}

/** What a check decides for a stored X-ray: its identity and its link under the file rule. */
interface StoredDecision {
  identity: Identity;
  link: Link;
}

/** The file's tags from its stored header (decrypted to the pixel data, never the pixels); null: not a DICOM. */
async function storedTags(deps: IdentityBackfillDeps, x: XrayRecord): Promise<DicomTags | null> {
  return x.contentType === 'application/dicom' ? dicomTagsOf(await readStoredDicomHeader(deps, x)) : null;
}

/** Whether the file's PatientID was issued by another authority than PATIENT_ID_ISSUER (otherIssuer). */
const ofAnotherAuthority = (dicom: DicomTags | null, issuer: string | undefined): boolean =>
  !!dicom?.patientId?.trim() && otherIssuer(dicom.issuerOfPatientId, issuer);

/**
 * Decides the identity of one stored X-ray as finalize did (or, stored before the check or the
 * setting, did not): the file's tags `dicom` from its stored header, the Patient Service's record
 * asked for as a link check asks (background: the configured timeout and retries), the
 * paramedic's decision sent with it as ingest reads it. The link is the one the Patient Service
 * answered, under the file rule (link.verifier.ts storedLink: a file naming another patient, or
 * another authority's id, is `invalid`, `file_patient_mismatch`); without a Patient Service, the
 * X-ray's own link under that rule (and only the PatientID compared, as before: no record asked).
 */
async function decideStored(
  deps: IdentityBackfillDeps,
  x: XrayRecord,
  dicom: DicomTags | null,
  /** What the X-ray's identity stays when the Patient Service does not answer (for the error). */
  stays: string,
): Promise<StoredDecision> {
  const issuer = deps.links.patientIdIssuer;
  // A PNG or JPEG names no patient: `not_dicom`, as ingest decides it, without asking anyone.
  let link: Link = { status: 'unchecked' };
  let kept: Link = x.link;
  if (dicom && deps.links.enabled) {
    const checked = await deps.links.verify(x.patientId, x.consultationId, 'background');
    if (checked.status === 'pending')
      throw new PatientServiceUnavailable(`the Patient Service did not answer; its identity stays ${stays}`);
    link = storedLink(checked, { patientId: x.patientId, dicom }, x, issuer);
    kept = link;
  } else if (dicom) kept = storedLink(x.link, { patientId: x.patientId, dicom }, x, issuer);
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
  return { identity: decideIdentity({ dicom, patientId: x.patientId, issuer, link, override }), link: kept };
}

/**
 * `xray-admin identity-check`: checks the identity of every X-ray stored before identity was
 * checked at ingest (`unknown`, reason `not_checked`) and, with PATIENT_ID_ISSUER set, decides
 * again those already checked whose file's PatientID another assigning authority issued while
 * their identity does not say so (decided before the setting was on): those whose row records the
 * issuer every run, those whose row records none (stored before issuers were recorded) only with
 * `recheckIssuers` (each one's header read again; only another authority's are written). Each
 * decided one is written in its own transaction: its identity, its link as checked again under the
 * file rule (another patient's or authority's file is `invalid`, `file_patient_mismatch`), the
 * file's issuer into `dicom` when the row lacked it, a change-feed entry (`updated`), an
 * `xray.updated` event (cause `identity_check`, identity — and link when its status changed —
 * before and after as status and field names), `xray.link_invalid` when the link became invalid,
 * the `xray.identity_mismatch` event when it is a new one (cause `identity_check`, no
 * demographics) and an `xray.update` audit event (cause `identity_check`, the same before and
 * after). One that cannot be decided (its header unreadable, the Patient Service not answering)
 * stays as it was and is reported. After `maxServiceFailuresInARow` (5) Patient Service failures
 * in a row the run stops (`stoppedAfterServiceFailures`): the rest stay for a later run. A second
 * run finds nothing left. `dryRun`: decides, writes nothing.
 */
export async function backfillIdentity(
  deps: IdentityBackfillDeps,
  opts: { dryRun?: boolean; batch?: number; maxServiceFailuresInARow?: number; recheckIssuers?: boolean } = {},
): Promise<IdentityBackfillReport> {
  const report: IdentityBackfillReport = { checked: 0, consistent: 0, mismatch: [], unknown: 0, failed: [] };
  const batch = opts.batch ?? 100;
  const maxServiceFailures = opts.maxServiceFailuresInARow ?? MAX_SERVICE_FAILURES_IN_A_ROW;
  const issuer = deps.links.patientIdIssuer?.trim() ? deps.links.patientIdIssuer : undefined;
  const selections: Selection[] = [
    'not_checked',
    ...(issuer ? (['recorded_issuer'] as const) : []),
    ...(issuer && opts.recheckIssuers ? (['unrecorded_issuer'] as const) : []),
  ];
  if (opts.recheckIssuers) report.issuersRead = 0;
  let serviceFailures = 0;
  for (const selection of selections) {
    const stays = selection === 'not_checked' ? NOT_CHECKED_REASON : 'as it was';
    let after: string | null = null;
    for (;;) {
      const page = await select(deps.pool, selection, after, batch, issuer ?? null);
      if (page.length === 0) break;
      for (const { id, issuer: recorded } of page) {
        after = id;
        // The recorded issuer is ours after all (case and blanks aside): nothing to decide again.
        if (selection === 'recorded_issuer' && !otherIssuer(recorded ?? undefined, issuer)) continue;
        try {
          const x = await deps.get(id);
          const dicom = await storedTags(deps, x);
          if (selection === 'unrecorded_issuer') report.issuersRead = (report.issuersRead ?? 0) + 1;
          // Already checked: decided again only when the file (as its header says) is another authority's.
          if (selection !== 'not_checked' && !ofAnotherAuthority(dicom, issuer)) continue;
          const decision = await decideStored(deps, x, dicom, stays);
          // The Patient Service answered (when it was asked): an outage's count starts again.
          if (dicom && deps.links.enabled) serviceFailures = 0;
          const headerIssuer = dicom?.issuerOfPatientId;
          const record = headerIssuer !== undefined && x.dicom?.issuerOfPatientId === undefined ? headerIssuer : null;
          const written = opts.dryRun ? decision.identity : await write(deps, x, decision, record, selection);
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
  return report;
}

/** Whether the X-ray is still as it was read: the decision was made for that row. */
function unchangedSince(read: XrayRecord, current: XrayRecord, selection: Selection): boolean {
  if (current.patientId !== read.patientId || current.consultationId !== read.consultationId) return false;
  if (selection === 'not_checked') return current.identity.reason === NOT_CHECKED_REASON;
  return (
    JSON.stringify(current.identity) === JSON.stringify(read.identity) &&
    JSON.stringify(current.link) === JSON.stringify(read.link)
  );
}

/**
 * Writes the decision under the row lock, unless the X-ray changed meanwhile (deleted, checked by
 * a correction or a link settling, moved to another patient or consultation): undefined then,
 * nothing written. `issuer`: the file's IssuerOfPatientID to record in `dicom` (the row lacked it).
 */
async function write(
  deps: IdentityBackfillDeps,
  read: XrayRecord,
  decision: StoredDecision,
  issuer: string | null,
  selection: Selection,
): Promise<Identity | undefined> {
  return inTransaction(deps.pool, async (tx) => {
    const current = await xrayLinkRepository.lockById(tx, read.id);
    if (!current || !unchangedSince(read, current, selection)) return undefined;
    const updated = await setDecision(tx, current.id, decision, current.dicom ? issuer : null);
    // The recovery record follows the row (a record older than its row's dicom is record_stale).
    await deps.writeRecord(updated);
    updated.changeSeq = await xrayChangeRepository.record(tx, {
      xrayId: updated.id,
      kind: 'updated',
      actorSub: null,
      ownerSub: updated.capturedBy.sub,
    });
    // Status and field names only: the values name the patient. The link as a PATCH reports it: when its status changed.
    const identityChange = { before: identityBrief(current.identity), after: identityBrief(updated.identity) };
    const linkChanged = linkChangeOf(current.link, updated.link);
    // As a PATCH or a settled link: the change's own xray.updated, so consumers learn the identity decided.
    const changes = { identity: identityChange, ...(linkChanged ? { link: linkChanged } : {}) };
    await deps.outbox.append(tx, xrayUpdated(updated, changes, 'identity_check', null));
    const invalid = linkChanged ? linkInvalidIfSo(updated) : undefined;
    if (invalid) await deps.outbox.append(tx, invalid);
    const mismatch = identityMismatchIfNew(current.identity, updated, 'identity_check');
    if (mismatch) await deps.outbox.append(tx, mismatch);
    // Last before COMMIT (it takes the audit chain's lock). The issuer recorded is named, not its value.
    const recorded = current.dicom && issuer !== null ? ['dicom.issuerOfPatientId'] : [];
    await appendAudit(tx, {
      context: systemContext(ACTOR),
      action: 'xray.update',
      outcome: 'success',
      xrayId: updated.id,
      patientId: updated.patientId,
      details: {
        cause: 'identity_check',
        before: { identity: identityChange.before, ...(linkChanged ? { link: linkChanged.before } : {}) },
        after: { identity: identityChange.after, ...(linkChanged ? { link: linkChanged.after } : {}) },
        changed: ['identity', ...(linkChanged ? ['link'] : []), ...recorded],
      },
    });
    return updated.identity;
  });
}
