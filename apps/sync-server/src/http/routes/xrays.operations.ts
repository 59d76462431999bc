import { XrayListQuerySchema, XrayUpdateSchema } from '@xray/shared';
import { z } from 'zod';
import {
  emptyResponse,
  headerParam,
  jsonResponse,
  problemResponse,
  problems,
  XrayListResourceSchema,
  XrayMetadataInputResourceSchema,
  XrayResourceSchema,
} from '../openapi.parts.ts';
import { defineOperations } from '../route-table.ts';

/**
 * The X-ray operations (mounted by xrays.routes.ts). Declared in a file of their own: the handlers
 * are long, and the declarations are what a client reads.
 */

const idParam = z.object({ id: z.uuid().meta({ description: 'The X-ray id' }) });
const noSuchXray = problemResponse(
  404,
  'No such X-ray, or one the caller may not see (the same answer: probing ids tells nothing) (`not_found`)',
);
const binary = (description: string) => z.string().meta({ format: 'binary', description });
/** What a download is served as: the type the X-ray was stored as, never a generic octet-stream. */
const imageContent = (description: string) => ({
  'application/dicom': { schema: binary(`${description} (DICOM Part 10)`) },
  'image/png': { schema: binary(`${description} (PNG)`) },
  'image/jpeg': { schema: binary(`${description} (JPEG)`) },
});
const downloadHeaders = ['ETag', 'Accept-Ranges', 'Content-Length', 'Content-Disposition', 'Cache-Control'] as const;
const downloadRequest = {
  params: idParam,
  headers: z.object({
    Range: headerParam(
      'One byte range (`bytes=<first>-<last>`, `bytes=<first>-`, `bytes=-<suffix>`); several are answered with the whole file',
    ),
    'If-Range': headerParam(
      'The ETag the client holds: the range is served only if it is current, else the whole file',
    ),
    'If-None-Match': headerParam('ETags the client holds: 304 when one is current'),
  }),
};

export const xrayOperations = defineOperations({
  createXray: {
    method: 'post',
    path: '/xrays',
    tags: ['xrays'],
    summary: 'Upload an X-ray (streamed)',
    description: [
      '`multipart/form-data` with the `metadata` part first (JSON: a plain form field, or a part of type `application/json`), then the `file` part (DICOM Part 10, PNG or JPEG; the type is read from the bytes).',
      'The file is streamed and verified (sha256 when declared, type, structure) before anything is stored; a refusal stores nothing.',
      'A client-chosen `id` makes it idempotent: the same id, user, metadata and bytes answers 200 with the stored X-ray.',
    ].join('\n\n'),
    access: 'token',
    action: 'xray.create',
    request: {
      body: {
        required: true,
        content: {
          'multipart/form-data': {
            schema: z.object({
              metadata: XrayMetadataInputResourceSchema,
              file: z.string().meta({
                format: 'binary',
                contentMediaType: 'application/octet-stream',
                description: 'The image: DICOM Part 10, PNG or JPEG',
              }),
            }),
            encoding: {
              metadata: { contentType: 'application/json' },
              file: { contentType: 'application/dicom, image/png, image/jpeg, application/octet-stream' },
            },
          },
        },
      },
    },
    responses: {
      201: jsonResponse('Stored; Location names the X-ray', XrayResourceSchema, ['Location']),
      200: jsonResponse(
        'Stored already: the same id, user, metadata and bytes (an idempotent repeat)',
        XrayResourceSchema,
        ['Location'],
      ),
      ...problems(400, 403, 408),
      409: problemResponse(409, 'This id is stored with other content or metadata, or by someone else (`conflict`)'),
      410: problemResponse(410),
      413: problemResponse(413, 'Larger than MAX_UPLOAD_BYTES (`payload_too_large`)'),
      415: problemResponse(
        415,
        'Not multipart/form-data, or not DICOM, PNG or JPEG, or a DICOM transfer syntax not accepted (`unsupported_media_type`)',
      ),
      422: problemResponse(422),
    },
  },
  listXrays: {
    method: 'get',
    path: '/xrays',
    tags: ['xrays'],
    summary: 'List X-rays, by capture time or (changedSince) by change sequence',
    description: 'Paramedics see only what they captured. Every list is audited with the ids it disclosed.',
    access: 'token',
    action: 'xray.list',
    request: { query: XrayListQuerySchema },
    responses: {
      200: jsonResponse('A page', XrayListResourceSchema),
      ...problems(400, 403),
    },
  },
  getXray: {
    method: 'get',
    path: '/xrays/{id}',
    tags: ['xrays'],
    summary: "An X-ray's metadata",
    access: 'token',
    action: 'xray.read',
    request: {
      params: idParam,
      headers: z.object({ 'If-None-Match': headerParam('ETags the client holds: 304 when one is current') }),
    },
    responses: {
      200: jsonResponse('The X-ray; ETag is its version', XrayResourceSchema, ['ETag']),
      304: emptyResponse('Not modified: the ETag the client sent is current', ['ETag']),
      ...problems(400, 403),
      404: noSuchXray,
    },
  },
  downloadXray: {
    method: 'get',
    path: '/xrays/{id}/download',
    tags: ['xrays'],
    summary: 'The original bytes, decrypted as a stream; Range, If-Range and If-None-Match',
    description:
      'Served as the type the X-ray was stored as (`application/dicom`, `image/png` or `image/jpeg`), as an attachment. ETag is the sha256 of the bytes. A failure mid-stream (stored data that does not authenticate) cuts the connection.',
    access: 'token',
    action: 'xray.download',
    request: downloadRequest,
    responses: {
      200: { description: 'The whole file', headers: downloadHeaders, content: imageContent('The whole file') },
      206: {
        description: 'The requested range',
        headers: [...downloadHeaders, 'Content-Range'],
        content: imageContent('The requested bytes'),
      },
      304: emptyResponse('Not modified (If-None-Match)', ['ETag']),
      ...problems(400, 403),
      404: noSuchXray,
      416: problemResponse(
        416,
        'The range does not fit the file; Content-Range gives its size (`range_not_satisfiable`)',
      ),
    },
  },
  headXrayDownload: {
    method: 'head',
    path: '/xrays/{id}/download',
    tags: ['xrays'],
    summary: "The download's headers (size, type, ETag) without its bytes",
    access: 'token',
    action: 'xray.download',
    request: downloadRequest,
    responses: {
      200: emptyResponse('The whole file would be sent', [...downloadHeaders]),
      206: emptyResponse('The range would be sent', [...downloadHeaders, 'Content-Range']),
      304: emptyResponse('Not modified (If-None-Match)', ['ETag']),
      ...problems(400, 403),
      404: emptyResponse('No such X-ray, or one the caller may not see'),
      416: emptyResponse('The range does not fit the file', ['Content-Range']),
    },
  },
  previewXray: {
    method: 'get',
    path: '/xrays/{id}/preview',
    tags: ['xrays'],
    summary: 'A rendered preview of the X-ray (JPEG, or PNG by Accept)',
    description: [
      "The image as a radiographer would see it, scaled to fit `size` × `size` (its aspect ratio kept): a DICOM's first frame through its Modality LUT (rescale), its own window or VOI LUT (else its full range) and MONOCHROME1 inversion; a PNG or JPEG scaled as it is.",
      'Rendered once and kept encrypted at rest (a later request for the same size and type decodes nothing); removed with the X-ray. Audited per X-ray as `xray.preview`.',
    ].join('\n\n'),
    access: 'token',
    action: 'xray.read',
    request: {
      params: idParam,
      query: z.object({
        size: z
          .string()
          .regex(/^\d+$/)
          .optional()
          .meta({ description: 'The longest side in pixels, 64 to 2048 (default 512)', example: '256' }),
      }),
      headers: z.object({
        Accept: headerParam('`image/jpeg` (the default) or `image/png`; anything else is 406'),
      }),
    },
    responses: {
      200: {
        description: 'The preview',
        headers: ['Cache-Control', 'Content-Length'],
        content: {
          'image/jpeg': { schema: binary('The preview (JPEG)') },
          'image/png': { schema: binary('The preview (PNG)') },
        },
      },
      ...problems(400, 403),
      404: noSuchXray,
      406: problemResponse(406, 'Accept allows neither image/jpeg nor image/png (`not_acceptable`)'),
      422: problemResponse(422, 'The X-ray has no pixels this server renders (`not_renderable`)'),
    },
  },
  updateXray: {
    method: 'patch',
    path: '/xrays/{id}',
    tags: ['xrays'],
    summary: 'Correct patientId, consultationId, bodyPart, view or notes',
    description:
      'Re-verifies the link with the Patient Service, is audited before/after and emits `xray.updated`. With `If-Match`, applied only if the X-ray is still that version (412 otherwise).',
    access: 'token',
    action: 'xray.update',
    request: {
      params: idParam,
      headers: z.object({ 'If-Match': headerParam('The ETag of the version the correction is based on') }),
      body: {
        required: true,
        content: {
          'application/json': { schema: XrayUpdateSchema.meta({ id: 'XrayUpdate' }) },
          'application/merge-patch+json': { schema: XrayUpdateSchema },
        },
      },
    },
    responses: {
      200: jsonResponse('The corrected X-ray; ETag is its new version', XrayResourceSchema, ['ETag']),
      ...problems(400, 403),
      404: noSuchXray,
      412: problemResponse(412, 'If-Match names another version: the X-ray changed since (`precondition_failed`)'),
      413: problemResponse(413, 'The body is larger than 64 KiB (`payload_too_large`)'),
    },
  },
  deleteXray: {
    method: 'delete',
    path: '/xrays/{id}',
    tags: ['xrays'],
    summary: 'Delete an X-ray and its object (the audit trail stays)',
    description:
      'Emits `xray.deleted`. With `If-Match`, deleted only if the X-ray is still that version (412 otherwise: it changed since it was read).',
    access: 'token',
    action: 'xray.delete',
    request: {
      params: idParam,
      headers: z.object({ 'If-Match': headerParam('The ETag of the version the deletion is based on') }),
    },
    responses: {
      204: emptyResponse('Deleted'),
      ...problems(400, 403),
      404: noSuchXray,
      412: problemResponse(412, 'If-Match names another version: the X-ray changed since (`precondition_failed`)'),
    },
  },
});
