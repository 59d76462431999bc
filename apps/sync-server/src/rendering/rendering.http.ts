import type { RequestHandler, Response } from 'express';
import { asDenial, auditOf } from '../audit/audit.http.ts';
import { actorOf } from '../auth/authenticate.middleware.ts';
import { authorize } from '../auth/policy.ts';
import { parseXrayId, type XrayService } from '../xrays/xray.service.ts';
import { previewParamsOf } from './render.params.ts';
import type { RenderResult, RenderService } from './render.service.ts';

export interface RenderingRouteDeps {
  xrays: XrayService;
  renders: RenderService;
}

/** A rendered image as the answer: patient data, so no shared cache keeps it. */
export function sendRendered(res: Response, out: RenderResult): void {
  res
    .status(200)
    .set({ 'Cache-Control': 'private, no-store', 'Content-Length': String(out.bytes.length) })
    .type(out.type)
    .end(out.bytes);
}

/**
 * GET /xrays/{id}/preview: decided and audited as GET /xrays/{id} is (policy `xray.read`: a
 * paramedic only what they captured), recorded as `xray.preview` with what was disclosed.
 */
export function previewHandler(deps: RenderingRouteDeps): RequestHandler<{ id: string }> {
  return async (req, res) => {
    const audit = auditOf(req).begin('xray.preview');
    const id = parseXrayId(req.params.id);
    audit.about({ xrayId: id });
    const actor = actorOf(req);
    authorize(actor, 'xray.read');
    const params = previewParamsOf(req.query, req.headers.accept);
    const x = await deps.xrays.get(id);
    audit.about({ patientId: x.patientId });
    asDenial(req, () => authorize(actor, 'xray.read', x));
    const out = await deps.renders.render(x, params);
    // Recorded before the image leaves: no unaudited disclosure if the trail cannot be written.
    await audit.success({
      type: out.type,
      size: params.viewport?.vw ?? null,
      bytes: out.bytes.length,
      cached: out.cached,
    });
    sendRendered(res, out);
  };
}
