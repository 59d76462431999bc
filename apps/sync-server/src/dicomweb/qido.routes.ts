import { loadDicomReader } from '@xray/shared';
import type { RequestHandler } from 'express';
import { auditOf } from '../audit/audit.http.ts';
import { actorOf } from '../auth/authenticate.middleware.ts';
import { listScope } from '../auth/policy.ts';
import { dicomInstanceRepository } from './dicom-instance.repository.ts';
import { dicomJsonTypeFor } from './dicomweb.accept.ts';
import { linkBaseOf, pathUidsOf } from './dicomweb.access.ts';
import type { DicomwebRouteTable, DicomwebRoutesDeps } from './dicomweb.routes.ts';
import { parseQidoQuery, QIDO_MAX_LIMIT, type Match, type QidoLevel } from './qido-query.ts';
import { identityWarnings, isCorrected } from './linked-patient.ts';
import { qidoDataset } from './qido-response.ts';

/**
 * QIDO-RS (PS3.18 10.6): searches of the instance index, scoped and audited like `GET /xrays`
 * (one `xray.list` event naming every X-ray the answer discloses, counts included).
 */

/** A query value kept in the audit trail: bounded, as the REST list keeps its filters. */
const auditable = (params: URLSearchParams): Record<string, string> =>
  Object.fromEntries([...params].slice(0, 32).map(([k, v]) => [k.slice(0, 64), v.slice(0, 256)]));

function search(deps: DicomwebRoutesDeps, level: QidoLevel): RequestHandler<{ study?: string; series?: string }> {
  return async (req, res) => {
    const audit = auditOf(req).begin('xray.list');
    // As GET /xrays: the query is read first, so even the role gate's refusal of a search for one
    // patient is on that patient's trail.
    const type = dicomJsonTypeFor(req.headers.accept);
    const params = new URL(req.originalUrl, 'http://query.invalid').searchParams;
    // The DICOM dictionary (dcmjs's), loaded with the first DICOMweb request (not at start).
    const dicom = await loadDicomReader();
    const issuer = deps.ingest.links.patientIdIssuer;
    const q = parseQidoQuery(params, dicom);
    // The path's UIDs match like query keys (studies/{study}/series: that study's series).
    const path = pathUidsOf(req.params);
    const within: Match[] = [];
    if (path.study) within.push({ column: 'study_uid', kind: 'any', values: [path.study], caseInsensitive: false });
    if (path.series) within.push({ column: 'series_uid', kind: 'any', values: [path.series], caseInsensitive: false });
    const patientIds = q.matches.flatMap((m) => (m.column === 'patient_id' && m.kind === 'any' ? m.values : []));
    audit.about({ patientId: patientIds.length === 1 ? (patientIds[0] ?? null) : null });
    const scope = listScope(actorOf(req), 'dicomweb.search');
    // One more than the page: whether the server's own limit cut the answer short (said in a Warning).
    const found = await dicomInstanceRepository.search(
      deps.pool,
      level,
      { ...q, matches: [...within, ...q.matches], limit: q.limit + 1 },
      scope,
    );
    const hits = found.slice(0, q.limit);
    const truncated = found.length > q.limit && !params.has('limit');
    const ids = [...new Set(hits.flatMap((h) => h.xrayIds))];
    await audit.success({ interface: 'dicomweb', level, query: auditable(params), count: hits.length, ids });
    const warnings = [
      ...(q.fuzzyAsked
        ? ['The fuzzymatching parameter is not supported. Only literal matching has been performed.']
        : []),
      ...(truncated
        ? [
            `The number of results exceeded the maximum supported by the server (${QIDO_MAX_LIMIT}). Additional results can be requested with offset.`,
          ]
        : []),
      ...(q.ignored.length ? [`Matching on ${q.ignored.join(', ').slice(0, 200)} is not supported: ignored.`] : []),
      // The patient shown is the linked one (qidoDataset): said when it is not the file's.
      ...identityWarnings(
        hits.filter((h) => isCorrected(h.header, h, issuer)).length,
        hits.filter((h) => h.identityStatus === 'mismatch').length,
        `${level} result(s)`,
      ),
    ];
    if (warnings.length) res.set('Warning', warnings.map((w) => `299 - "${w.replace(/["\\]/g, '')}"`).join(', '));
    const base = linkBaseOf(req, deps.publicUrl);
    res
      .status(200)
      .set({ 'Content-Type': type, 'Cache-Control': 'private, no-store' })
      .send(JSON.stringify(hits.map((h) => qidoDataset(level, h, q, base, dicom, issuer))));
  };
}

/** Mounts the QIDO-RS searches on the DICOMweb route table. */
export function mountQido(routes: DicomwebRouteTable, deps: DicomwebRoutesDeps): void {
  routes
    .on('searchStudies', search(deps, 'study'))
    .on('searchSeries', search(deps, 'series'))
    .on('searchInstances', search(deps, 'instance'))
    .on('searchStudySeries', search(deps, 'series'))
    .on('searchStudyInstances', search(deps, 'instance'))
    .on('searchSeriesInstances', search(deps, 'instance'));
}
