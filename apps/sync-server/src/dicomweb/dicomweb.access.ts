import type { Request } from 'express';
import { asDenial, auditOf } from '../audit/audit.http.ts';
import { appendAuditBatch, type AuditEventInput } from '../audit/audit.service.ts';
import { actorOf } from '../auth/authenticate.middleware.ts';
import { authorize, listScope } from '../auth/policy.ts';
import { inTransaction, type Pool } from '../db/pool.ts';
import { DomainError } from '../errors.ts';
import { dicomInstanceRepository, type IndexedInstance } from './dicom-instance.repository.ts';

/** The UIDs a DICOMweb path names: a study, one of its series, one instance. */
export interface PathUids {
  study: string;
  series?: string;
  instance?: string;
}

const UID = /^[0-9.]{1,64}$/;

/** The path's UIDs, checked (400 `bad_request` for one that is not a UID; the value is not echoed). */
export function pathUidsOf(params: { study?: string; series?: string; instance?: string }): PathUids {
  const out: PathUids = { study: '' };
  for (const name of ['study', 'series', 'instance'] as const) {
    const v = params[name];
    if (v === undefined) continue;
    if (!UID.test(v))
      throw new DomainError('bad_request', `The path does not name a ${name} UID.`, [
        { field: name, message: 'must be a UID (digits and dots, at most 64)' },
      ]);
    out[name] = v;
  }
  return out;
}

const levelOf = (u: PathUids) => (u.instance ? 'instance' : u.series ? 'series' : 'study');

/**
 * The instances a DICOMweb resource names that the caller may see — THE lookup by UIDs every
 * WADO-RS resource (retrieve, metadata, rendered, thumbnail) starts from. The role gate first
 * (403, audited as a denial); then the caller's scope (a paramedic: what they captured). None
 * visible is 404 `not_found`, the same whether none exist or all are someone else's (then
 * audited as a denial). Each instance is judged by the policy table again on its X-ray.
 */
export async function visibleInstances(
  req: Request,
  pool: Pool,
  uids: PathUids,
  action: 'dicomweb.retrieve' = 'dicomweb.retrieve',
): Promise<IndexedInstance[]> {
  const actor = actorOf(req);
  const scope = listScope(actor, action);
  const found = await dicomInstanceRepository.instancesOf(pool, uids, scope);
  if (found.length === 0) {
    const hidden = scope.capturedBy !== undefined && (await dicomInstanceRepository.exists(pool, uids));
    if (hidden) auditOf(req).denying('not_owner');
    throw new DomainError('not_found', `There is no such ${levelOf(uids)}.`);
  }
  for (const i of found) asDenial(req, () => authorize(actor, action, i));
  const [only] = found;
  if (found.length === 1 && only) auditOf(req).about({ xrayId: only.xrayId, patientId: only.patientId });
  return found;
}

/**
 * One success event per X-ray disclosed (as `GET /xrays/{id}` or its download leaves), appended
 * together before anything is sent; the request's own audit is then done.
 */
export async function auditPerXray(
  req: Request,
  pool: Pool,
  action: 'xray.read' | 'xray.download' | 'xray.preview',
  instances: readonly IndexedInstance[],
  details: (i: IndexedInstance) => Record<string, unknown>,
): Promise<void> {
  const audit = auditOf(req);
  const context = audit.context();
  const events: AuditEventInput[] = instances.map((i) => ({
    context,
    action,
    outcome: 'success',
    xrayId: i.xrayId,
    patientId: i.patientId,
    details: {
      interface: 'dicomweb',
      method: req.method,
      study: i.studyUid,
      series: i.seriesUid,
      instance: i.sopUid,
      ...details(i),
    },
  }));
  await inTransaction(pool, (tx) => appendAuditBatch(tx, events));
  audit.recordedInTransaction();
}

/** Where the links DICOM JSON carries (RetrieveURL, BulkDataURI) start: PUBLIC_URL, else this request's origin. */
export const linkBaseOf = (req: Request, publicUrl: string | undefined): string =>
  publicUrl ?? `${req.protocol}://${req.get('host') ?? 'localhost'}`;
