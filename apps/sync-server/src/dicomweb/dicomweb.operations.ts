import { z } from 'zod';
import { problemResponse, problems, type HeaderUse } from '../http/openapi.parts.ts';
import { defineOperations } from '../http/route-table.ts';

/**
 * DICOMweb (PS3.18) under `/dicom-web`, declared like every other route (mounted by
 * dicomweb.routes.ts): QIDO-RS searches, WADO-RS retrieve and metadata here; STOW-RS and the
 * rendered resources are declared in this same table by their modules.
 */

export const DICOMWEB_BASE = '/dicom-web';

const uid = (what: string) =>
  z
    .string()
    .regex(/^[0-9.]{1,64}$/)
    .meta({ description: `The ${what} UID` });
const studyParams = z.object({ study: uid('Study Instance') });
const seriesParams = studyParams.extend({ series: uid('Series Instance') });
const instanceParams = seriesParams.extend({ instance: uid('SOP Instance') });

/** One attribute of a DICOM JSON dataset (PS3.18 F.2.2): its VR and Value, or a BulkDataURI for bulk data. */
const DicomJsonAttributeSchema = z
  .object({
    vr: z.string().regex(/^[A-Z]{2}$/),
    Value: z.array(z.unknown()).optional(),
    BulkDataURI: z.string().optional(),
    InlineBinary: z.string().optional(),
  })
  .meta({ id: 'DicomJsonAttribute', description: 'A DICOM JSON attribute (PS3.18 F.2.2)' });

export const DicomJsonDatasetSchema = z.record(z.string().regex(/^[0-9A-F]{8}$/), DicomJsonAttributeSchema).meta({
  id: 'DicomJsonDataset',
  description: 'A DICOM JSON dataset (PS3.18 F.2): attributes keyed by tag (8 upper-case hex digits)',
});
const datasets = z.array(DicomJsonDatasetSchema);

/** DICOM JSON, as `application/dicom+json` (also as `application/json` to a client that asks for it). */
const dicomJson = (description: string, headers: HeaderUse[] = []) => ({
  description,
  headers,
  content: {
    'application/dicom+json': { schema: datasets },
    'application/json': { schema: datasets },
  },
});

const matching = (what: string) => z.string().optional().meta({ description: what });
/** The QIDO-RS query parameters (PS3.18 8.3.4): matching keys, then limit/offset/includefield/fuzzymatching. */
const qidoQuery = z.object({
  PatientID: matching('Patient ID: exact, or with `*` and `?` wildcards (also `00100020`)'),
  PatientName: matching('Patient name: `*` and `?` wildcards, case-insensitive (also `00100010`)'),
  StudyDate: matching('`YYYYMMDD`, or a range `a-b`, `-b`, `a-` (also `00080020`)'),
  StudyInstanceUID: matching('One UID or several separated by `\\` (also `0020000D`)'),
  SeriesInstanceUID: matching('One UID or several separated by `\\` (also `0020000E`)'),
  SOPInstanceUID: matching('One UID or several separated by `\\` (also `00080018`)'),
  AccessionNumber: matching('Accession number: exact, or with wildcards (also `00080050`)'),
  ModalitiesInStudy: matching('A modality (`CR`, `DX`, …): studies with a series of it (also `00080061`)'),
  Modality: matching('A series modality (also `00080060`)'),
  limit: z.string().regex(/^\d+$/).optional().meta({ description: 'At most this many results' }),
  offset: z.string().regex(/^\d+$/).optional().meta({ description: 'Skip this many results' }),
  includefield: z
    .string()
    .optional()
    .meta({ description: 'More attributes to return: keywords or tags (comma-separated or repeated), or `all`' }),
  fuzzymatching: z.enum(['true', 'false']).optional().meta({ description: 'Only `false` is performed' }),
});

const accept = (description: string) => z.object({ Accept: z.string().optional().meta({ description }) });
const qidoAccept = accept('`application/dicom+json` (default) or `application/json`; anything else is 406');
const wadoAccept = accept(
  '`multipart/related; type="application/dicom"` with `transfer-syntax=*` or the stored syntax (default); another transfer syntax is 406',
);

const noSuchUid = problemResponse(
  404,
  'No such study, series or instance, or none the caller may see (the same answer) (`not_found`)',
);
const notAcceptable = problemResponse(
  406,
  'The `Accept` asks for a type or transfer syntax not served (`not_acceptable`)',
);

const search = <P extends string>(
  path: P,
  level: 'study' | 'series' | 'instance',
  summary: string,
  params?: z.ZodObject,
) => ({
  method: 'get' as const,
  path,
  tags: ['DICOMweb'] as const,
  summary,
  description:
    `QIDO-RS (PS3.18 10.6): one DICOM JSON dataset per ${level}. No match is 200 with \`[]\`. ` +
    'Paramedics find only what they captured; each search is audited with the X-rays it disclosed.',
  access: 'token' as const,
  action: 'dicomweb.search' as const,
  request: { query: qidoQuery, headers: qidoAccept, ...(params ? { params } : {}) },
  responses: {
    200: dicomJson(
      'The matches (DICOM JSON); PatientID is the patient the X-ray is linked to (a differing file value in OtherPatientIDsSequence). A Warning names query parameters not applied (fuzzymatching, attributes not matched on), a corrected PatientID, an identity mismatch',
      ['Warning'],
    ),
    ...problems(400, 403),
    406: notAcceptable,
  },
});

const multipartDicom = {
  description: 'The instances as stored, one part each',
  headers: [],
  content: {
    'multipart/related': {
      schema: z.string().meta({
        format: 'binary',
        description: '`multipart/related; type="application/dicom"`: each part a DICOM Part 10 file, as stored',
      }),
    },
  },
};

const retrieve = <P extends string>(path: P, what: string, params: z.ZodObject) => ({
  method: 'get' as const,
  path,
  tags: ['DICOMweb'] as const,
  summary: `WADO-RS: the ${what}'s instances as stored`,
  description:
    'The stored bytes of each instance (its own transfer syntax), decrypted while streamed. Audited per X-ray as a download.',
  access: 'token' as const,
  action: 'dicomweb.retrieve' as const,
  request: { params, headers: wadoAccept },
  responses: { 200: multipartDicom, ...problems(400, 403), 404: noSuchUid, 406: notAcceptable },
});

/** Retrieve Frames (wado.routes.ts, wado.frames.ts): chosen frames' pixel data, one part each. */
const frameParams = instanceParams.extend({
  frames: z
    .string()
    .regex(/^[0-9]+(,[0-9]+)*$/)
    .meta({
      description:
        'Frame numbers from 1, comma-separated (`1`, `1,3`), each at most once, at most 1000, answered in this order',
    }),
});
const framePart = (type: string) => ({
  schema: z.string().meta({
    format: 'binary',
    description: `\`multipart/related; type="${type}"\`: one part per frame asked, in order, each \`Content-Type: ${type}; transfer-syntax=<UID>\``,
  }),
});
const retrieveFrames = <P extends string>(path: P) => ({
  method: 'get' as const,
  path,
  tags: ['DICOMweb'] as const,
  summary: "WADO-RS: frames of an instance's pixel data (Retrieve Frames)",
  description:
    'PS3.18 10.4.1.1.4, as OHIF loads `wadors:` images: one part per frame asked, in order. Native (uncompressed, little endian) ' +
    'pixel data: each frame its Rows × Columns × SamplesPerPixel × BitsAllocated/8 bytes, `application/octet-stream` with the ' +
    'stored transfer syntax (Implicit and Explicit VR Little Endian give the same bytes: either may be asked for). Compressed: each ' +
    "frame's bitstream as stored (its fragments concatenated; several frames located by the Basic Offset Table or one fragment each), " +
    '`application/octet-stream` or, when `type` asks for it, its own media type (`image/jpeg`, `image/jls`, `image/jp2`, ' +
    '`image/dicom-rle`, …), with `transfer-syntax=<stored UID>`. Nothing is transcoded. Only the header and the frames asked are ' +
    'decrypted, never the whole X-ray. Audited per X-ray as a download (`xray.download`, `details.dicomweb: frames`).',
  access: 'token' as const,
  action: 'dicomweb.retrieve' as const,
  request: {
    params: frameParams,
    headers: accept(
      '`multipart/related; type="application/octet-stream"` (the default; also `*/*`), or with the compressed syntax\'s own type, with `transfer-syntax=*` or the stored syntax; another transfer syntax is 406',
    ),
  },
  responses: {
    200: {
      description: 'The frames, one part each, in the order asked',
      headers: [],
      content: { 'multipart/related': framePart('application/octet-stream') },
    },
    ...problems(400, 403),
    404: problemResponse(
      404,
      'No such study, series or instance, or none the caller may see (the same answer); a frame past NumberOfFrames (named); an instance with no pixel data (`not_found`)',
    ),
    406: problemResponse(
      406,
      'The `Accept` asks for a type or transfer syntax not served, or the pixel data cannot be served frame by frame without transcoding (big endian, video, frames not locatable without decoding) (`not_acceptable`)',
    ),
  },
});

const metadata = <P extends string>(path: P, what: string, params: z.ZodObject) => ({
  method: 'get' as const,
  path,
  tags: ['DICOMweb'] as const,
  summary: `WADO-RS: the ${what}'s metadata (DICOM JSON, bulk data by BulkDataURI)`,
  description: 'One DICOM JSON dataset per instance, from the index written at ingest. Audited per X-ray as a read.',
  access: 'token' as const,
  action: 'dicomweb.retrieve' as const,
  request: { params, headers: qidoAccept },
  responses: {
    200: dicomJson(
      'The instances’ headers, PatientID the linked patient’s (a differing file value in OtherPatientIDsSequence); a Warning names any whose header ends early (the header is read whole at ingest; an instance indexed before that from its first 64 KiB may lack attributes until `xray-admin dicom-index` reads it again), a corrected PatientID, an identity mismatch',
      ['Warning'],
    ),
    ...problems(400, 403),
    404: noSuchUid,
    406: notAcceptable,
  },
});

/** STOW-RS (stow.routes.ts): the Store Instances Response Module, one DICOM JSON dataset. */
const stowAnswer = (description: string) => ({
  description,
  headers: ['Warning' as const],
  content: {
    'application/dicom+json': { schema: DicomJsonDatasetSchema },
    'application/json': { schema: DicomJsonDatasetSchema },
  },
});

const store = (path: string, summary: string, params?: z.ZodObject) => ({
  method: 'post' as const,
  path,
  tags: ['DICOMweb'] as const,
  summary,
  description:
    'STOW-RS (PS3.18 10.5): one DICOM Part 10 file per part, streamed (chunked bodies too) into the same ingest as ' +
    '`POST /xrays`: encrypted at rest, linked, announced and audited per instance (`xray.create`). The metadata ' +
    'comes from each header: PatientID; the acquisition (else content, else study) date and time; ' +
    "BodyPartExamined (`UNKNOWN` when absent); ViewPosition (`OTHER` when not one of the API's views); priority " +
    '`routine`. The SOP Instance UID names the X-ray: the same instance sent again is reported stored (a ' +
    "`Warning` says it was already), other bytes under a stored UID (or another user's X-ray) fail with 0111H. Failure Reasons: A700 " +
    'larger than MAX_UPLOAD_BYTES, A900 required attributes missing or invalid or another study than the ' +
    "path's, C000 not DICOM or damaged, C122 an encoding not taken, 0110 another failure; each failure is also " +
    'described in a `Warning` header. A body whose framing breaks is 400 (instances before the break stay ' +
    'stored; sending again is safe).',
  access: 'token' as const,
  action: 'xray.create' as const,
  request: {
    ...(params ? { params } : {}),
    headers: accept('`application/dicom+json` (default) or `application/json`; anything else is 406'),
    body: {
      required: true,
      content: {
        'multipart/related': {
          schema: z.string().meta({
            format: 'binary',
            description: '`multipart/related; type="application/dicom"`: each part a DICOM Part 10 file',
          }),
        },
      },
    },
  },
  responses: {
    200: stowAnswer('Every instance is stored (`00081199`, with each RetrieveURL; `00081190` the study)'),
    202: stowAnswer('Some instances are stored (`00081199`), others failed (`00081198`, with a Failure Reason each)'),
    ...problems(400, 403),
    406: notAcceptable,
    409: stowAnswer('No instance could be stored: each is in `00081198` with its Failure Reason'),
    ...problems(415),
  },
});

/** Rendered resources (src/rendering/dicomweb-rendered.ts): PS3.18 8.3.5's parameters, one JPEG or PNG. */
const renderedQuery = z.object({
  window: z.string().optional().meta({
    description:
      '`center,width,function` (function `linear`, `linear-exact` or `sigmoid`, PS3.18 8.3.5.1.4): the VOI window, instead of the file’s own',
  }),
  viewport: z.string().optional().meta({
    description:
      '`vw,vh` or `vw,vh,sx,sy,sw,sh` (PS3.18 8.3.5.1.3): the size the image is scaled to fit (aspect ratio kept) and the source region (a negative sw or sh flips it)',
  }),
  quality: z.string().optional().meta({ description: 'JPEG quality, 1 to 100 (default 90)' }),
});
const renderedImage = (description: string) => ({
  description,
  headers: ['Cache-Control', 'Content-Length'] as const,
  content: {
    'image/jpeg': { schema: z.string().meta({ format: 'binary', description: `${description} (JPEG)` }) },
    'image/png': { schema: z.string().meta({ format: 'binary', description: `${description} (PNG)` }) },
  },
});
const rendered = <P extends string>(path: P, what: string, params: z.ZodObject, kind: 'rendered' | 'thumbnail') => ({
  method: 'get' as const,
  path,
  tags: ['DICOMweb'] as const,
  summary: kind === 'thumbnail' ? `WADO-RS: a thumbnail of the ${what}` : `WADO-RS: the ${what} rendered`,
  description:
    (kind === 'thumbnail'
      ? `A small rendered image (128 × 128 unless \`viewport\` says otherwise)${what === 'instance' ? '' : ` of the ${what}'s first instance`}. `
      : 'The first frame at its own size unless `viewport` says otherwise. ') +
    'The pixels through the Modality LUT (rescale), the VOI (`window`, else the file’s window or VOI LUT Sequence, else its full range) and MONOCHROME1 inversion. ' +
    'Rendered once and kept encrypted at rest; audited per X-ray as `xray.preview`.',
  access: 'token' as const,
  action: 'dicomweb.retrieve' as const,
  request: {
    params,
    query: renderedQuery,
    headers: accept('`image/jpeg` (the default) or `image/png`; anything else is 406'),
  },
  responses: {
    200: renderedImage(kind === 'thumbnail' ? 'The thumbnail' : 'The rendered image'),
    ...problems(400, 403),
    404: noSuchUid,
    406: problemResponse(406, 'Accept allows neither image/jpeg nor image/png (`not_acceptable`)'),
    422: problemResponse(422, 'The instance has no pixels this server renders (`not_renderable`)'),
  },
});

const B = DICOMWEB_BASE;

export const dicomwebOperations = defineOperations({
  // QIDO-RS
  searchStudies: search(`${B}/studies`, 'study', 'QIDO-RS: search for studies'),
  searchSeries: search(`${B}/series`, 'series', 'QIDO-RS: search for series'),
  searchInstances: search(`${B}/instances`, 'instance', 'QIDO-RS: search for instances'),
  searchStudySeries: search(`${B}/studies/{study}/series`, 'series', "QIDO-RS: a study's series", studyParams),
  searchStudyInstances: search(
    `${B}/studies/{study}/instances`,
    'instance',
    "QIDO-RS: a study's instances",
    studyParams,
  ),
  searchSeriesInstances: search(
    `${B}/studies/{study}/series/{series}/instances`,
    'instance',
    "QIDO-RS: a series' instances",
    seriesParams,
  ),
  // WADO-RS
  retrieveStudy: retrieve(`${B}/studies/{study}`, 'study', studyParams),
  retrieveSeries: retrieve(`${B}/studies/{study}/series/{series}`, 'series', seriesParams),
  retrieveInstance: retrieve(`${B}/studies/{study}/series/{series}/instances/{instance}`, 'instance', instanceParams),
  retrieveInstanceFrames: retrieveFrames(`${B}/studies/{study}/series/{series}/instances/{instance}/frames/{frames}`),
  retrieveStudyMetadata: metadata(`${B}/studies/{study}/metadata`, 'study', studyParams),
  retrieveSeriesMetadata: metadata(`${B}/studies/{study}/series/{series}/metadata`, 'series', seriesParams),
  retrieveInstanceMetadata: metadata(
    `${B}/studies/{study}/series/{series}/instances/{instance}/metadata`,
    'instance',
    instanceParams,
  ),
  // STOW-RS (stow.routes.ts)
  storeInstances: store(`${B}/studies`, 'STOW-RS: store instances'),
  storeStudyInstances: store(`${B}/studies/{study}`, 'STOW-RS: store instances of one study', studyParams),
  // Rendered resources (src/rendering/dicomweb-rendered.ts)
  retrieveInstanceRendered: rendered(
    `${B}/studies/{study}/series/{series}/instances/{instance}/rendered`,
    'instance',
    instanceParams,
    'rendered',
  ),
  retrieveInstanceThumbnail: rendered(
    `${B}/studies/{study}/series/{series}/instances/{instance}/thumbnail`,
    'instance',
    instanceParams,
    'thumbnail',
  ),
  retrieveSeriesThumbnail: rendered(
    `${B}/studies/{study}/series/{series}/thumbnail`,
    'series',
    seriesParams,
    'thumbnail',
  ),
  retrieveStudyThumbnail: rendered(`${B}/studies/{study}/thumbnail`, 'study', studyParams, 'thumbnail'),
  // STOW-RS (stow.*.ts) and rendered/thumbnail (src/rendering/) entries go here.
});

export { instanceParams, seriesParams, studyParams, noSuchUid, notAcceptable, dicomJson };
