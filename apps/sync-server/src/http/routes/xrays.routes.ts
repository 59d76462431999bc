import { pipeline } from 'node:stream/promises';
import express, { type Request, type RequestHandler, type Router } from 'express';
import { fieldErrors, XrayListQuerySchema, XrayUpdateSchema, type Xray } from '@xray/shared';
import { asDenial, auditOf } from '../../audit/audit.http.ts';
import { actorOf } from '../../auth/authenticate.middleware.ts';
import { authorize, listScope } from '../../auth/policy.ts';
import { DomainError } from '../../errors.ts';
import { assertCaptureTimeNotAhead } from '../../ingest/capture-time.ts';
import { ingestStream, parseMetadata, type IngestDeps } from '../../ingest/ingest.service.ts';
import type { Metrics } from '../../observability/metrics.ts';
import { previewHandler } from '../../rendering/rendering.http.ts';
import type { RenderService } from '../../rendering/render.service.ts';
import type { ByteRange } from '../../storage/index.ts';
import { toResource } from '../../xrays/xray.repository.ts';
import { parseXrayId, type XrayService } from '../../xrays/xray.service.ts';
import { ifMatchHolds, noneMatch, resourceEtag } from '../entity-tags.ts';
import type { DownloadSlots } from '../download-slots.ts';
import { readXrayMultipart } from '../multipart.ts';
import { RouteTable } from '../route-table.ts';
import { publicHref } from '../public-url.ts';
import { DOWNLOAD_CSP } from '../security-headers.ts';
import { xrayOperations } from './xrays.operations.ts';

export interface XrayRoutesDeps {
  ingest: IngestDeps;
  xrays: XrayService;
  /** Previews (rendering/render.service.ts). */
  renders: RenderService;
  /** Each user's answers streaming stored bytes at once (http/download-slots.ts). */
  downloads: DownloadSlots;
  metrics: Metrics;
  /** PUBLIC_URL: the base of the Location a 201 names. */
  publicUrl?: string | undefined;
}

const EXTENSIONS: Record<Xray['contentType'], string> = {
  'application/dicom': 'dcm',
  'image/png': 'png',
  'image/jpeg': 'jpg',
};

/** Parses `Range` for one X-ray: undefined = whole file; throws 416 for ranges we cannot serve. */
function requestedRange(req: Request, x: Xray): ByteRange | undefined {
  const header = req.headers.range;
  if (!header) return undefined;
  // If-Range: a range of a different version is meaningless; send the whole file.
  const ifRange = req.headers['if-range'];
  if (ifRange && ifRange !== `"${x.sha256}"`) return undefined;
  const ranges = req.range(x.sizeBytes, { combine: true });
  if (ranges === -1 || ranges === -2 || ranges === undefined || ranges.type !== 'bytes' || ranges.length === 0) {
    throw new DomainError(
      'range_not_satisfiable',
      `Range "${header}" does not fit this X-ray of ${x.sizeBytes} bytes.`,
    );
  }
  // Several disjoint ranges: serve the whole file rather than multipart/byteranges (RFC 9110 allows it).
  if (ranges.length > 1) return undefined;
  const [only] = ranges;
  return only ? { start: only.start, end: only.end } : undefined;
}

export function xrayRoutes(deps: XrayRoutesDeps): Router {
  const routes = new RouteTable(xrayOperations);

  routes.on('createXray', async (req, res) => {
    const audit = auditOf(req).begin('xray.create');
    const actor = actorOf(req);
    authorize(actor, 'xray.create');
    const part = await readXrayMultipart(req, deps.ingest.maxUploadBytes);
    let metadata;
    try {
      metadata = parseMetadata(part.metadata);
      assertCaptureTimeNotAhead(metadata.capturedAt, deps.ingest.captureTimeMaxSkewMs);
    } catch (err) {
      part.file.resume();
      throw err;
    }
    audit.about({ xrayId: metadata.id ?? null, patientId: metadata.patientId });
    const { xray, created } = await ingestStream(deps.ingest, {
      metadata,
      actor,
      body: part.file,
      context: audit.context(),
    });
    audit.recordedInTransaction();
    res
      .status(created ? 201 : 200)
      .location(publicHref(deps.publicUrl, `/xrays/${xray.id}`))
      .json(toResource(xray));
  });

  routes.on('listXrays', async (req, res) => {
    const audit = auditOf(req).begin('xray.list');
    const q = XrayListQuerySchema.safeParse(req.query);
    if (!q.success)
      // `patientId` names the query parameter, whichever of its values is wrong.
      throw new DomainError(
        'validation_failed',
        'The query has invalid parameters.',
        fieldErrors(q.error).map((e) => ({ ...e, field: e.field.replace(/^patientId\.\d+$/, 'patientId') })),
      );
    // Known before the role gate: a refused list of a patient's X-rays is on that patient's trail
    // (one patient; a list of several names them all in its details).
    audit.about({ patientId: q.data.patientId?.length === 1 ? q.data.patientId[0] : null });
    const scope = listScope(actorOf(req));
    const page = await deps.xrays.list(q.data, scope);
    // One event per list request; the ids say exactly which X-rays it disclosed.
    await audit.success({ filters: q.data, count: page.items.length, ids: page.items.map((x) => x.id) });
    res.json({ items: page.items.map(toResource), nextCursor: page.nextCursor });
  });

  routes.on('getXray', async (req, res) => {
    const audit = auditOf(req).begin('xray.read');
    // The target first, so even the role gate's refusal is on this X-ray's trail.
    const id = parseXrayId(req.params.id);
    audit.about({ xrayId: id });
    const actor = actorOf(req);
    authorize(actor, 'xray.read');
    const x = await deps.xrays.get(id);
    audit.about({ patientId: x.patientId });
    asDenial(req, () => authorize(actor, 'xray.read', x));
    // The resource's version (not the file's sha256, which is the download's ETag): a client
    // revalidates with If-None-Match and corrects with If-Match.
    const etag = resourceEtag(x);
    res.set('ETag', etag);
    // Compared by hand: express's req.fresh ignores If-None-Match when the client sends Cache-Control: no-cache.
    if (noneMatch(req.headers['if-none-match'], etag)) {
      await audit.success({ notModified: true });
      res.status(304).end();
      return;
    }
    await audit.success();
    res.json(toResource(x));
  });

  // GET and HEAD (headers only: the content is never opened).
  const download: RequestHandler<{ id: string }> = async (req, res) => {
    const audit = auditOf(req).begin('xray.download');
    const id = parseXrayId(req.params.id);
    audit.about({ xrayId: id });
    const actor = actorOf(req);
    authorize(actor, 'xray.download');
    const x = await deps.xrays.get(id);
    audit.about({ patientId: x.patientId });
    asDenial(req, () => authorize(actor, 'xray.download', x));
    const etag = `"${x.sha256}"`;
    // Compared by hand: express's req.fresh ignores If-None-Match when the client sends Cache-Control: no-cache.
    const notModified = noneMatch(req.headers['if-none-match'], etag);
    let range: ByteRange | undefined;
    try {
      range = notModified ? undefined : requestedRange(req, x);
    } catch (err) {
      res.set('Content-Range', `bytes */${x.sizeBytes}`);
      throw err;
    }
    // Allowed and answerable: one of the user's streaming slots before the store is opened (a
    // refusal, 429, carries none of the file's headers). HEAD and 304 open nothing.
    if (req.method !== 'HEAD' && !notModified) await deps.downloads.take(res, actor.sub);
    res.attachment(`xray-${x.id}.${EXTENSIONS[x.contentType]}`);
    // An attachment that, opened in a browser anyway, runs nothing and loads nothing.
    res
      .set({
        ETag: etag,
        'Accept-Ranges': 'bytes',
        'Cache-Control': 'private, no-store',
        'Content-Security-Policy': DOWNLOAD_CSP,
      })
      .type(x.contentType);
    if (notModified) {
      await audit.success({ method: req.method, notModified: true });
      res.status(304).end();
      return;
    }
    if (range) res.status(206).set('Content-Range', `bytes ${range.start}-${range.end}/${x.sizeBytes}`);
    const length = range ? range.end - range.start + 1 : x.sizeBytes;
    // Opened (data key unwrapped and proven bound to this X-ray and object, the object's length
    // checked, header and first segments read) before the audit event: a download refused as not
    // this X-ray's image is on the trail as a failed download (with its problem), not a success.
    // Read at the client's pace: off the store connections uploads and the server's own reads use.
    const content = req.method === 'HEAD' ? undefined : await deps.xrays.openContent(x, range, { clientPaced: true });
    // Recorded before the first byte leaves: no unaudited disclosure if the trail cannot be written.
    try {
      await audit.success({
        method: req.method,
        range: range ? { start: range.start, end: range.end } : null,
        bytes: length,
      });
    } catch (err) {
      content?.destroy();
      throw err;
    }
    res.set('Content-Length', String(length));
    if (!content) {
      res.end();
      return;
    }
    content.on('data', (chunk: Buffer) => deps.metrics.downloadedBytes.inc(chunk.length));
    // A failure mid-stream (a segment that does not authenticate, a whole download whose sha256
    // differs, its last segment withheld) ends in the problem handler, which cuts the connection.
    await pipeline(content, res);
  };
  routes.on('downloadXray', download).on('headXrayDownload', download);

  routes.on('previewXray', previewHandler(deps));

  // A correction: JSON (or JSON merge patch) naming the fields to change.
  const jsonBody = express.json({ type: ['application/json', 'application/merge-patch+json'], limit: '64kb' });
  routes.on('updateXray', jsonBody, async (req, res) => {
    const audit = auditOf(req).begin('xray.update');
    const id = parseXrayId(req.params.id);
    audit.about({ xrayId: id });
    const actor = actorOf(req);
    authorize(actor, 'xray.update');
    const changes = XrayUpdateSchema.safeParse(req.body ?? {});
    if (!changes.success)
      throw new DomainError('validation_failed', 'The correction has invalid fields.', fieldErrors(changes.error));
    const x = await deps.xrays.get(id);
    audit.about({ patientId: x.patientId });
    asDenial(req, () => authorize(actor, 'xray.update', x));
    // If-Match: applied only to the version the client read (checked again under the row lock).
    const ifMatch = req.headers['if-match'];
    const precondition = ifMatch === undefined ? undefined : (cur: Xray) => ifMatchHolds(ifMatch, resourceEtag(cur));
    const updated = await deps.xrays.update(x, changes.data, audit.context(), precondition);
    audit.recordedInTransaction();
    res.set('ETag', resourceEtag(updated)).json(toResource(updated));
  });

  routes.on('deleteXray', async (req, res) => {
    const audit = auditOf(req).begin('xray.delete');
    const id = parseXrayId(req.params.id);
    audit.about({ xrayId: id });
    authorize(actorOf(req), 'xray.delete');
    // If-Match (RFC 9110 §13.1.1, evaluated for every method that changes the resource): only the
    // version the client read is deleted (checked again on the row the DELETE removes).
    const ifMatch = req.headers['if-match'];
    const precondition = ifMatch === undefined ? undefined : (cur: Xray) => ifMatchHolds(ifMatch, resourceEtag(cur));
    await deps.xrays.delete(id, audit.context(), precondition);
    audit.recordedInTransaction();
    res.status(204).end();
  });

  return routes.router();
}
