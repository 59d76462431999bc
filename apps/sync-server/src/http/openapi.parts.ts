import type { ZodType } from 'zod';
import { z } from 'zod';
import { ProblemSchema, XrayListSchema, XrayMetadataInputSchema, XraySchema } from '@xray/shared';
import { ERRORS, type ErrorCode } from '../errors.ts';

/**
 * The pieces route declarations (route-table.ts) are written with: the tags, the named response
 * headers, and the problem+json answers with their documented `code`s.
 */

/** Every tag an operation may carry, with the description the document shows for it. */
export const API_TAGS = {
  xrays: 'X-rays: upload (streamed multipart), list, read, download, correct and delete.',
  uploads:
    'Resumable uploads (tus 1.0: creation, creation-with-upload, termination, expiration) of XRE1 ciphertext, as the edge app sends them. A completed upload is an X-ray.',
  keys: 'The public keys edges wrap data keys for (no authentication).',
  devices: 'Edge devices: enrollment of a DPoP key, revocation, and the wipe report of a revoked device.',
  roster: "The Patient Service's patients and open consultations, for a paramedic's device to keep offline.",
  audit: 'Administrators: the tamper-evident audit trail (also as FHIR AuditEvent).',
  outbox: 'Administrators: event delivery to the Doctor Service webhook and RabbitMQ.',
  edge: 'What the edge app reads about this deployment before anyone signs in.',
  operations: 'Liveness, readiness and this document.',
  DICOMweb:
    'DICOMweb (PS3.18) under `/dicom-web`: QIDO-RS search, WADO-RS retrieve and metadata, with the same tokens, roles and audit as the REST API. Only DICOM X-rays are in it.',
} as const;
export type ApiTag = keyof typeof API_TAGS;

const text = (description: string, schema: Record<string, unknown> = { type: 'string' }) => ({ description, schema });
// A type, not an interface: it must fit zod-to-openapi's HeaderObject (with its `x-` index signature).
type ApiHeaderObject = { description: string; schema: Record<string, unknown>; required?: boolean };

/** A header the server sends on every answer that names it: a client may rely on it. */
const always = (header: ReturnType<typeof text>) => ({ ...header, required: true });

/**
 * Response headers by name, published under components/headers. Those marked `always` are
 * `required: true` (the response check reports an answer without one); where such a header is only
 * sometimes sent, the answer names it with `sometimes(...)` instead.
 */
export const API_HEADERS = {
  'X-Request-Id': always(
    text(
      'The request id: the one the client sent (1–128 of `A-Za-z0-9._-`), else a new UUID. Logs and the audit trail carry it.',
    ),
  ),
  'Retry-After': always(text('Seconds to wait before trying again.', { type: 'integer', minimum: 0 })),
  'WWW-Authenticate': text('The authentication scheme(s) and, on a refusal, the error (RFC 6750, RFC 9449).'),
  Location: always(text('The URL of what was created or stored.', { type: 'string', format: 'uri-reference' })),
  ETag: always(
    text(
      'A strong entity tag: `"<sha256 hex>"` of the bytes for a download, `"v<changeSeq>"` for the X-ray resource.',
      { type: 'string', pattern: '^"[^"]*"$' },
    ),
  ),
  'Accept-Ranges': text('Ranges are served in bytes.', { type: 'string', enum: ['bytes'] }),
  'Content-Range': always(
    text('`bytes <first>-<last>/<size>`, or `bytes */<size>` with 416.', {
      type: 'string',
      pattern: '^bytes (\\d+-\\d+|\\*)/\\d+$',
    }),
  ),
  'Content-Length': text('The length of the body in bytes.', { type: 'integer', minimum: 0 }),
  'Content-Disposition': text('`attachment; filename="xray-<id>.<dcm|png|jpg>"`.'),
  'Cache-Control': text('How the answer may be cached.'),
  'Access-Control-Allow-Origin': text('Any origin may read this answer.', { type: 'string', enum: ['*'] }),
  'Tus-Resumable': always(text('The tus protocol version of the answer.', { type: 'string', enum: ['1.0.0'] })),
  'Tus-Version': text('The tus protocol versions the server speaks.'),
  'Tus-Extension': text('The tus extensions the server supports, comma-separated.'),
  'Tus-Max-Size': text('The largest upload (ciphertext bytes) the server accepts.', { type: 'integer', minimum: 0 }),
  'Upload-Offset': always(text('Bytes of the upload the server holds.', { type: 'integer', minimum: 0 })),
  'Upload-Length': text('The whole length of the upload (ciphertext bytes).', { type: 'integer', minimum: 0 }),
  'Upload-Expires': text('When an unfinished upload expires (RFC 9110 date).'),
  'Upload-Metadata': text('The metadata the upload was created with (tus `key base64value` pairs).'),
  Warning: text(
    '`299 - "<text>"` (RFC 9111 5.5, as DICOMweb uses it): STOW-RS sends one per instance that failed or was stored already, naming it; QIDO-RS names the query parameters it did not apply.',
  ),
  'X-Xray-Id': text('The id of the X-ray the upload is stored as.', { type: 'string', format: 'uuid' }),
  'X-Xray-Sha256': text('The SHA-256 (hex) of the stored X-ray plaintext.', {
    type: 'string',
    pattern: '^[0-9a-f]{64}$',
  }),
} as const;
export type ApiHeader = keyof typeof API_HEADERS;

/** A header an answer names: by itself as its component says, or `sometimes(name)` (optional there). */
export type HeaderUse = ApiHeader | { readonly sometimes: ApiHeader };

/** An always-sent header this answer carries only sometimes (Retry-After on a 409, Upload-Offset on a tus 201). */
export const sometimes = (name: ApiHeader): HeaderUse => ({ sometimes: name });

/** The components/headers entry a use refers to: `<name>.optional` for a `sometimes` one. */
export const headerComponentOf = (use: HeaderUse): string =>
  typeof use === 'string' ? use : `${use.sometimes}.optional`;

/** The header name a use stands for. */
export const headerNameOf = (use: HeaderUse): ApiHeader => (typeof use === 'string' ? use : use.sometimes);

/** The components/headers entry a use refers to (a `sometimes` one: its header, not required). */
export function headerComponentBody(use: HeaderUse): ApiHeaderObject {
  if (typeof use === 'string') return API_HEADERS[use];
  const { required: _required, ...optional }: ApiHeaderObject = API_HEADERS[use.sometimes];
  return optional;
}

const codesOf = (status: number): ErrorCode[] =>
  Object.entries(ERRORS).flatMap(([code, e]) => (e.status === status ? [code as ErrorCode] : []));

/**
 * Problem `code`: exactly the server's error catalogue (src/errors.ts), each with its status and
 * meaning. A client may switch on it; the list only grows.
 */
export const ProblemCodeSchema = z.enum(Object.keys(ERRORS) as [ErrorCode, ...ErrorCode[]]).meta({
  id: 'ProblemCode',
  description: [
    'What went wrong, for a program to act on (`title` and `detail` are for people):',
    '',
    ...Object.entries(ERRORS).map(([code, e]) => `- \`${code}\` (${e.status}): ${e.description}`),
  ].join('\n'),
});

export const ApiProblemSchema = ProblemSchema.extend({ code: ProblemCodeSchema }).meta({
  id: 'Problem',
  description:
    'RFC 9457 problem details. `type` is `https://xray-service.dev/problems/<code with dashes>`; `errors[]` names each invalid field.',
});

/** Named once: several declarations answer or take these. */
export const XrayResourceSchema = XraySchema.meta({ id: 'Xray' });
export const XrayListResourceSchema = XrayListSchema.meta({ id: 'XrayList' });
export const XrayMetadataInputResourceSchema = XrayMetadataInputSchema.meta({ id: 'XrayMetadataInput' });

const HEADERS_BY_STATUS: Partial<Record<number, HeaderUse[]>> = {
  401: ['WWW-Authenticate'],
  // Only a busy upload's 409 says when to retry; a 429 or 503 always does.
  409: [sometimes('Retry-After')],
  416: ['Content-Range'],
  423: ['Retry-After'],
  429: ['Retry-After'],
  503: ['Retry-After'],
};

/**
 * A problem+json answer. Without a description, the codes this status carries are listed; headers
 * a problem of this status may carry (Retry-After, WWW-Authenticate, Content-Range) are named.
 */
export function problemResponse(status: number, description?: string) {
  const codes = codesOf(status);
  return {
    description: description ?? (codes.map((c) => `\`${c}\`: ${ERRORS[c].description}`).join(' ') || 'A problem'),
    headers: HEADERS_BY_STATUS[status] ?? [],
    content: { 'application/problem+json': { schema: ApiProblemSchema } },
  };
}

/** Several problem answers with their default descriptions: `...problems(400, 403, 404)`. */
export const problems = (...statuses: number[]) => Object.fromEntries(statuses.map((s) => [s, problemResponse(s)]));

/** A JSON answer. */
export const jsonResponse = (description: string, schema: ZodType, headers: HeaderUse[] = []) => ({
  description,
  headers,
  content: { 'application/json': { schema } },
});

/** An answer without a body. */
export const emptyResponse = (description: string, headers: HeaderUse[] = []) => ({ description, headers });

/** A header parameter of a request, with its description. */
export const headerParam = (description: string, schema: ZodType = z.string()) =>
  schema.optional().meta({ description });
