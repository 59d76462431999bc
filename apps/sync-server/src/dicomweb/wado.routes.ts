import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Request, RequestHandler, Response } from 'express';
import { auditOf } from '../audit/audit.http.ts';
import { actorOf } from '../auth/authenticate.middleware.ts';
import { DomainError } from '../errors.ts';
import type { XrayRecord } from '../xrays/xray.repository.ts';
import { assertRetrieveAcceptable, dicomJsonTypeFor } from './dicomweb.accept.ts';
import { auditPerXray, linkBaseOf, pathUidsOf, visibleInstances } from './dicomweb.access.ts';
import type { DicomwebRouteTable, DicomwebRoutesDeps } from './dicomweb.routes.ts';
import { readStoredDicomHeader } from './dicom-index.backfill.ts';
import { identityWarnings, withLinkedPatient } from './linked-patient.ts';
import { withLinks } from './qido-response.ts';
import { fragmentValues, framesAnswerFor, locateFrames, parseFrameList, type FramePart } from './wado.frames.ts';

/**
 * WADO-RS (PS3.18 10.4): a study's, series' or instance's stored bytes as `multipart/related;
 * type="application/dicom"` (each instance as stored, decrypted while it streams from the object
 * store, one X-ray at a time), and their headers as DICOM JSON from the index (no object read).
 * Audited per X-ray: a retrieve as its download, metadata as its read. Retrieve Frames
 * (`…/frames/{frames}`): chosen frames' pixel data as stored (wado.frames.ts locates them),
 * audited as the instance's download.
 */

type UidParams = { study: string; series?: string; instance?: string };

/**
 * One part's bytes into the response, at the pace the client reads (backpressure), leaving the
 * response open for the next part. (stream.pipeline with `end: false` would leave a listener on
 * the response per part.) A client gone away ends the copy; a failing source throws.
 */
async function copyInto(content: Readable, res: Response): Promise<void> {
  try {
    for await (const chunk of content) {
      if (res.destroyed) throw new DomainError('client_closed', 'The client closed the connection mid-retrieve.');
      if (!res.write(chunk)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.on('drain', done);
          res.on('close', done);
        });
      }
    }
  } finally {
    content.destroy();
  }
}

/** One part of a multipart answer: its headers' values and how its bytes are opened. */
interface Part {
  contentType: string;
  /** Content-Length, when known before the bytes are read. */
  length?: number;
  open: () => Promise<Readable>;
}

/**
 * Answers `parts` as one `multipart/related; type=…`: one of the user's streaming slots taken
 * (http/download-slots.ts; a request beyond the limit waits here, having opened nothing), the first
 * part's bytes opened before `audit` records the read (a stored X-ray that does not open is a
 * failed retrieve, not a disclosure), then each part streamed at the client's pace. HEAD: the
 * headers only, no slot, nothing opened. A failure
 * mid-stream (a segment that does not authenticate) ends in the problem handler, which cuts the
 * connection: the client sees an incomplete multipart, never wrong bytes.
 */
async function sendParts(
  req: Request,
  res: Response,
  deps: DicomwebRoutesDeps,
  type: string,
  parts: readonly Part[],
  audit: () => Promise<void>,
): Promise<void> {
  const [first] = parts;
  if (req.method !== 'HEAD') await deps.downloads.take(res, actorOf(req).sub);
  let opened: Readable | undefined = req.method === 'HEAD' || !first ? undefined : await first.open();
  try {
    await audit();
  } catch (err) {
    opened?.destroy();
    throw err;
  }
  const boundary = `xray-${randomBytes(16).toString('hex')}`;
  res.status(200).set({
    'Content-Type': `multipart/related; type="${type}"; boundary=${boundary}`,
    'Cache-Control': 'private, no-store',
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  for (const p of parts) {
    const length = p.length === undefined ? '' : `Content-Length: ${p.length}\r\n`;
    res.write(`--${boundary}\r\nContent-Type: ${p.contentType}\r\n${length}\r\n`);
    const content = opened ?? (await p.open());
    opened = undefined;
    content.on('data', (chunk: Buffer) => deps.metrics.downloadedBytes.inc(chunk.length));
    await copyInto(content, res);
    res.write('\r\n');
  }
  res.end(`--${boundary}--\r\n`);
}

function retrieve(deps: DicomwebRoutesDeps): RequestHandler<UidParams> {
  return async (req, res) => {
    auditOf(req).begin('xray.download');
    const uids = pathUidsOf(req.params);
    const instances = await visibleInstances(req, deps.pool, uids);
    assertRetrieveAcceptable(
      req.headers.accept,
      instances.map((i) => i.transferSyntaxUid),
    );
    const records: XrayRecord[] = [];
    for (const i of instances) records.push(await deps.xrays.get(i.xrayId));
    const parts = records.map((x, n) => ({
      contentType: `application/dicom; transfer-syntax=${instances[n]?.transferSyntaxUid ?? ''}`,
      length: x.sizeBytes,
      // Streamed at the client's pace: off the store connections uploads and the server's own reads use.
      open: () => deps.xrays.openContent(x, undefined, { clientPaced: true }),
    }));
    await sendParts(req, res, deps, 'application/dicom', parts, () =>
      auditPerXray(req, deps.pool, 'xray.download', instances, (i) => ({
        dicomweb: 'retrieve',
        bytes: records.find((r) => r.id === i.xrayId)?.sizeBytes ?? null,
      })),
    );
  };
}

/**
 * WADO-RS Retrieve Frames (PS3.18 10.4.1.1.4), what OHIF's `wadors:` images load: one part per
 * frame asked, in order, each its native pixel bytes or compressed bitstream as stored. Only the
 * header (to the pixel data) and each frame's own byte range are decrypted, never the whole X-ray;
 * a segment failing authentication mid-stream cuts the response, as a retrieve does. Audited as
 * the instance's retrieve (`xray.download`), with the frames in the event.
 */
function retrieveFrames(deps: DicomwebRoutesDeps): RequestHandler<UidParams & { frames: string }> {
  return async (req, res) => {
    auditOf(req).begin('xray.download');
    const uids = pathUidsOf(req.params);
    const wanted = parseFrameList(req.params.frames);
    // An instance stored twice with other bytes is two: the first in the index's order, as /rendered.
    const [instance] = await visibleInstances(req, deps.pool, uids);
    if (!instance) throw new DomainError('not_found', 'There is no such instance.');
    auditOf(req).about({ xrayId: instance.xrayId, patientId: instance.patientId });
    const answer = framesAnswerFor(req.headers.accept, instance.transferSyntaxUid);
    const x = await deps.xrays.get(instance.xrayId);
    const header = await readStoredDicomHeader(deps.xrays, x);
    const openRange = (range: FramePart['range']) => deps.xrays.openContent(x, range);
    const { parts } = await locateFrames(header, x.sizeBytes, wanted, openRange, `${x.id}:${x.sha256}`);
    // The slot is taken in sendParts, once the frames are found: the header and the fragments' item
    // headers are read whole, at the server's pace, and a frame the instance lacks is 404 at once.
    const frameParts = parts.map((p) => ({
      contentType: `${answer.partType}; transfer-syntax=${answer.transferSyntax}`,
      // A compressed frame's length is known only as its fragments' item headers are stripped: none sent.
      ...(p.encapsulated ? {} : { length: p.range.end - p.range.start + 1 }),
      // Streamed at the client's pace (locating the frames above was at the server's): see retrieve.
      open: async () => {
        const content = await deps.xrays.openContent(x, p.range, { clientPaced: true });
        return p.encapsulated ? fragmentValues(content) : content;
      },
    }));
    await sendParts(req, res, deps, answer.partType, frameParts, () =>
      auditPerXray(req, deps.pool, 'xray.download', [instance], () => ({
        dicomweb: 'frames',
        frames: wanted.length > 20 ? `${wanted.slice(0, 20).join(',')},…` : wanted.join(','),
        frameCount: wanted.length,
      })),
    );
  };
}

function metadata(deps: DicomwebRoutesDeps): RequestHandler<UidParams> {
  return async (req, res) => {
    auditOf(req).begin('xray.read');
    const uids = pathUidsOf(req.params);
    const instances = await visibleInstances(req, deps.pool, uids);
    const type = dicomJsonTypeFor(req.headers.accept);
    await auditPerXray(req, deps.pool, 'xray.read', instances, () => ({ dicomweb: 'metadata' }));
    const base = linkBaseOf(req, deps.publicUrl);
    // Ingest reads a header whole, but a row indexed before that from a 64 KiB prefix is served as
    // far as it was read, until `xray-admin dicom-index` reads it again: said so.
    const cut = instances.filter((i) => !i.headerComplete).map((i) => i.sopUid);
    // The patient is the one the X-ray is linked to, as the REST API shows it (linked-patient.ts).
    const shown = instances.map((i) => withLinkedPatient(i.header, i, deps.ingest.links.patientIdIssuer));
    const warnings = [
      ...(cut.length
        ? [
            `Headers indexed from their first 64 KiB only end early (attributes before the pixel data may be missing until xray-admin dicom-index reads them again) for ${cut.length} instance(s): ${cut.slice(0, 10).join(' ')}`,
          ]
        : []),
      ...identityWarnings(
        shown.filter((s) => s.corrected).length,
        instances.filter((i) => i.identityStatus === 'mismatch').length,
        'instance(s)',
      ),
    ];
    if (warnings.length) res.set('Warning', warnings.map((w) => `299 - "${w.replace(/["\\]/g, '')}"`).join(', '));
    res
      .status(200)
      .set({ 'Content-Type': type, 'Cache-Control': 'private, no-store' })
      .send(JSON.stringify(shown.map((s) => withLinks(s.header, base))));
  };
}

/** Mounts WADO-RS retrieve and metadata on the DICOMweb route table. */
export function mountWado(routes: DicomwebRouteTable, deps: DicomwebRoutesDeps): void {
  const bytes = retrieve(deps);
  const headers = metadata(deps);
  routes
    .on('retrieveStudy', bytes)
    .on('retrieveSeries', bytes)
    .on('retrieveInstance', bytes)
    .on('retrieveInstanceFrames', retrieveFrames(deps))
    .on('retrieveStudyMetadata', headers)
    .on('retrieveSeriesMetadata', headers)
    .on('retrieveInstanceMetadata', headers);
}
