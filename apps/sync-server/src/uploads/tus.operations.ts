import { JSON_UPLOAD_METADATA_FIELDS, UPLOAD_KEY_FIELDS, UPLOAD_PATH, XRAY_UPLOAD_METADATA_FIELDS } from '@xray/shared';
import { z } from 'zod';
import {
  emptyResponse,
  headerParam,
  problemResponse,
  problems,
  sometimes,
  XrayResourceSchema,
} from '../http/openapi.parts.ts';
import { defineOperations } from '../http/route-table.ts';

/**
 * The resumable upload door (tus 1.0), declared like every other route: the door (tus.http.ts)
 * mounts exactly these, and the document shows them. The bodies are XRE1 ciphertext.
 */

const uploadId = z.object({ id: z.uuid().meta({ description: 'The upload (a random UUID from its Location)' }) });
const tusResumable = z.literal('1.0.0').meta({ description: 'The tus protocol version' });
const chunk = z.string().meta({ format: 'binary', description: 'XRE1 ciphertext bytes, from Upload-Offset on' });
const stored = 'The X-ray is stored: X-Xray-Id and X-Xray-Sha256 name it';
/**
 * A byte count in a header. Documentation only (the tus server parses the headers): a plain
 * integer, not `z.coerce`, which also takes null and would document the header as nullable.
 */
const byteCount = z.int().min(0);
/** Express matches paths in any case and with a trailing slash; the door takes only the exact one. */
const otherShape = problemResponse(404, 'Not exactly `/uploads` (another case, a trailing slash): `not_found`');

export const uploadOperations = defineOperations({
  getUploadCapabilities: {
    method: 'options',
    path: UPLOAD_PATH,
    tags: ['uploads'],
    summary: "tus discovery: the server's protocol versions, extensions and largest upload",
    description: 'A CORS preflight (with `Access-Control-Request-Method`) is answered before authentication instead.',
    access: 'token',
    action: 'upload.create',
    responses: {
      204: emptyResponse('The capabilities', ['Tus-Resumable', 'Tus-Version', 'Tus-Extension', 'Tus-Max-Size']),
      404: otherShape,
    },
  },
  getUploadCapabilitiesForUpload: {
    method: 'options',
    path: `${UPLOAD_PATH}/{id}`,
    tags: ['uploads'],
    summary: 'tus discovery at an upload URL: the same capabilities',
    description: 'Reads no upload. A CORS preflight is answered before authentication instead.',
    access: 'token',
    action: 'upload.create',
    request: { params: uploadId },
    responses: {
      204: emptyResponse('The capabilities', ['Tus-Resumable', 'Tus-Version', 'Tus-Extension', 'Tus-Max-Size']),
      ...problems(404),
    },
  },
  createUpload: {
    method: 'post',
    path: UPLOAD_PATH,
    tags: ['uploads'],
    summary: 'Begin a resumable upload (tus creation, creation-with-upload)',
    description: [
      '`Upload-Metadata` carries the X-ray fields',
      `(${XRAY_UPLOAD_METADATA_FIELDS.map((f) => `\`${f}\``).join(', ')}; \`id\` and \`sha256\` required;`,
      `${JSON_UPLOAD_METADATA_FIELDS.map((f) => `\`${f}\``).join(', ')} as JSON text)`,
      `and the data key wrapped for \`GET /keys/upload\` (\`${UPLOAD_KEY_FIELDS.wrappedDek}\`, \`${UPLOAD_KEY_FIELDS.kid}\`).`,
      'An id that is stored already answers by the repeat rule, as `POST /xrays` does.',
    ].join(' '),
    access: 'token',
    action: 'upload.create',
    request: {
      headers: z.object({
        'Tus-Resumable': tusResumable,
        'Upload-Length': headerParam('The whole ciphertext length in bytes', byteCount),
        'Upload-Defer-Length': headerParam('`1`: the length is sent later (instead of Upload-Length)', z.literal('1')),
        'Upload-Metadata': headerParam('tus metadata: comma-separated `key base64(value)` pairs'),
      }),
      body: {
        required: false,
        description: 'creation-with-upload: the first bytes of the upload',
        content: { 'application/offset+octet-stream': { schema: chunk } },
      },
    },
    responses: {
      201: emptyResponse('Created; Location names the upload. With all bytes sent at once, the X-ray is stored', [
        'Location',
        'Tus-Resumable',
        // Only when the creation carried bytes (creation-with-upload).
        sometimes('Upload-Offset'),
        'Upload-Expires',
        'X-Xray-Id',
        'X-Xray-Sha256',
      ]),
      200: {
        description:
          'This X-ray is stored already (the repeat rule): Location names its finished upload, which HEAD answers as complete',
        headers: ['Location', 'Tus-Resumable', 'Upload-Offset', 'X-Xray-Id', 'X-Xray-Sha256'],
        content: { 'application/json': { schema: XrayResourceSchema } },
      },
      ...problems(400, 403, 408, 409, 410, 413, 415, 422),
      404: otherShape,
      412: problemResponse(412, 'A tus version the server does not speak (`precondition_failed`)'),
      429: problemResponse(429),
    },
  },
  getUploadOffset: {
    method: 'head',
    path: `${UPLOAD_PATH}/{id}`,
    tags: ['uploads'],
    summary: 'How much of the upload the server holds (resume from Upload-Offset)',
    description:
      'A complete upload answers with its X-ray in X-Xray-Id and X-Xray-Sha256, from the database: an end offset always comes with its X-ray. One whose bytes are all in but whose X-ray is not stored yet (its final PATCH is being stored, or was cut off before) is stored first, with the same checks and problems as that PATCH; still being stored elsewhere after the lock timeout: 423 `upload_busy` with Retry-After.',
    access: 'token',
    action: 'upload.continue',
    request: { params: uploadId, headers: z.object({ 'Tus-Resumable': tusResumable }) },
    responses: {
      200: emptyResponse('The offset', [
        'Tus-Resumable',
        'Upload-Offset',
        'Upload-Length',
        'Upload-Metadata',
        'Upload-Expires',
        'Cache-Control',
        'X-Xray-Id',
        'X-Xray-Sha256',
      ]),
      ...problems(403, 404, 409, 410, 412, 422, 423),
    },
  },
  appendUploadChunk: {
    method: 'patch',
    path: `${UPLOAD_PATH}/{id}`,
    tags: ['uploads'],
    summary: 'Send the next bytes, from Upload-Offset',
    description:
      'The request that completes the upload verifies and stores the X-ray (decrypt, sha256, type) before it is answered. Repeating the final PATCH at the end offset answers 204 again.',
    access: 'token',
    action: 'upload.continue',
    request: {
      params: uploadId,
      headers: z.object({
        'Tus-Resumable': tusResumable,
        'Upload-Offset': headerParam('Where these bytes start: the offset HEAD answered', byteCount),
      }),
      body: { required: true, content: { 'application/offset+octet-stream': { schema: chunk } } },
    },
    responses: {
      204: emptyResponse(`Received; Upload-Offset is the new offset. When complete: ${stored}`, [
        'Tus-Resumable',
        'Upload-Offset',
        'Upload-Expires',
        'X-Xray-Id',
        'X-Xray-Sha256',
      ]),
      ...problems(400, 403, 404, 408, 409, 410, 412, 413, 415, 422),
      429: problemResponse(429),
    },
  },
  terminateUpload: {
    method: 'delete',
    path: `${UPLOAD_PATH}/{id}`,
    tags: ['uploads'],
    summary: 'Abandon an unfinished upload (tus termination)',
    description: 'A complete upload is an X-ray: it is never removed this way (409 `upload_complete`).',
    access: 'token',
    action: 'upload.terminate',
    request: { params: uploadId, headers: z.object({ 'Tus-Resumable': tusResumable }) },
    responses: {
      204: emptyResponse('Terminated: its bytes and row are gone', ['Tus-Resumable']),
      ...problems(403, 404, 409, 412),
    },
  },
});
