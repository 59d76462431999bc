import type { RequestHandler } from 'express';
import { auditOf } from '../audit/audit.http.ts';
import type { Pool } from '../db/pool.ts';
import { DomainError } from '../errors.ts';
import { auditPerXray, pathUidsOf, visibleInstances } from '../dicomweb/dicomweb.access.ts';
import type { DicomwebRouteTable } from '../dicomweb/dicomweb.routes.ts';
import type { XrayService } from '../xrays/xray.service.ts';
import { renderParamsOf, type Viewport } from './render.params.ts';
import type { RenderService } from './render.service.ts';
import { sendRendered } from './rendering.http.ts';

/**
 * WADO-RS rendered resources (PS3.18 10.4.1.1.3, 8.3.5): an instance `/rendered`, and the
 * `/thumbnail` of an instance, a series or a study (its first instance, in the index's order:
 * series number, instance number). Found by UIDs through the DICOMweb index and its access rules
 * (dicomweb.access.ts: the caller's scope, then the policy per X-ray), rendered by the same service
 * as REST's preview (same cache), audited per X-ray as `xray.preview`.
 */

/** A thumbnail's size when the request names no viewport. */
export const THUMBNAIL_VIEWPORT: Viewport = { vw: 128, vh: 128 };

export interface DicomwebRenderingDeps {
  pool: Pool;
  xrays: XrayService;
  renders: RenderService;
}

type UidParams = { study: string; series?: string; instance?: string };

function renderedHandler(deps: DicomwebRenderingDeps, kind: 'rendered' | 'thumbnail'): RequestHandler<UidParams> {
  return async (req, res) => {
    auditOf(req).begin('xray.preview');
    const uids = pathUidsOf(req.params);
    const params = renderParamsOf(
      req.query,
      req.headers.accept,
      kind === 'thumbnail' ? { viewport: THUMBNAIL_VIEWPORT } : {},
    );
    const [first] = await visibleInstances(req, deps.pool, uids);
    if (!first) throw new DomainError('not_found', 'There is no such instance.');
    auditOf(req).about({ xrayId: first.xrayId, patientId: first.patientId });
    const x = await deps.xrays.get(first.xrayId);
    const out = await deps.renders.render(x, params);
    // Recorded before the image leaves: one event for the one X-ray it shows.
    await auditPerXray(req, deps.pool, 'xray.preview', [first], () => ({
      dicomweb: kind,
      type: out.type,
      bytes: out.bytes.length,
      cached: out.cached,
    }));
    sendRendered(res, out);
  };
}

/** Mounts the rendered resources on the DICOMweb route table. */
export function mountRendered(routes: DicomwebRouteTable, deps: DicomwebRenderingDeps): void {
  const rendered = renderedHandler(deps, 'rendered');
  const thumbnail = renderedHandler(deps, 'thumbnail');
  routes
    .on('retrieveInstanceRendered', rendered)
    .on('retrieveInstanceThumbnail', thumbnail)
    .on('retrieveSeriesThumbnail', thumbnail)
    .on('retrieveStudyThumbnail', thumbnail);
}
