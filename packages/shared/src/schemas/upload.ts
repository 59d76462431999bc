import type { FieldError } from './problem.ts';
import type { XrayMetadataInput } from './xray.ts';

/**
 * The resumable upload contract between the edge app and the sync server (tus 1.0), stated once.
 *
 * - Creation: `POST /uploads` with `Upload-Length` (the XRE1 ciphertext length) and
 *   `Upload-Metadata` carrying the X-ray fields below plus the data key (`dek`, wrapped for the
 *   server's upload key `kid` from `GET /keys/upload`).
 * - The upload then lives at `/uploads/{uuid}` and nowhere else; only its creator may continue it.
 * - The response that completes an upload (and `HEAD` of a complete one, to its creator) carries
 *   the stored X-ray's id and plaintext sha256 in the headers below.
 */
export const UPLOAD_PATH = '/uploads';

/** Upload ids are random UUIDs: `/uploads/{uuid}` is the only shape of an upload's URL. */
export const UPLOAD_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The X-ray fields the server reads from `Upload-Metadata`; `id` and `sha256` are required there. */
export const XRAY_UPLOAD_METADATA_FIELDS = [
  'id',
  'sha256',
  'patientId',
  'consultationId',
  'capturedAt',
  'deviceId',
  'bodyPart',
  'view',
  'priority',
  'notes',
  'patientDecision',
  'patientDecisionReason',
  'identityOverride',
] as const satisfies readonly (keyof XrayMetadataInput)[];

/** Upload-Metadata fields whose value is an object, sent as its JSON text. */
export const JSON_UPLOAD_METADATA_FIELDS: readonly (typeof XRAY_UPLOAD_METADATA_FIELDS)[number][] = [
  'identityOverride',
];

/** `Upload-Metadata` keys of the data key: base64 of the wrapped key, and the upload key's kid. */
export const UPLOAD_KEY_FIELDS = { wrappedDek: 'dek', kid: 'kid' } as const;

/** Response headers that name the stored X-ray. */
export const UPLOAD_HEADERS = { xrayId: 'X-Xray-Id', xraySha256: 'X-Xray-Sha256' } as const;

/** Problem `code`s particular to the upload door (besides the API's common ones). */
export const UPLOAD_PROBLEM_CODES = {
  /** DELETE of an upload that is already stored as an X-ray: nothing was touched. */
  complete: 'upload_complete',
  /** Too many uploads at once, or too many unfinished ones: retry after `Retry-After`. */
  tooMany: 'too_many_requests',
  /** The client went silent mid-body; what arrived is kept, resume from `HEAD`. */
  idle: 'request_timeout',
} as const;

/**
 * The field error the server answers when an upload's data key is wrapped for an upload key it
 * no longer holds: the edge fetches the current key and tries again (any other 400 needs a person).
 */
export const STALE_UPLOAD_KEY: FieldError = { field: 'metadata.kid', message: 'is not a current upload key' };
