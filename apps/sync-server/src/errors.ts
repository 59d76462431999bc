import type { FieldError } from '@xray/shared';

/** One entry of the catalogue: the HTTP status, the problem's title, and what it means to a client. */
interface ErrorEntry {
  status: number;
  title: string;
  /** Published as the documented list of Problem `code`s in the OpenAPI document. */
  description: string;
}

/**
 * The domain's error catalogue: each code has one HTTP status and title, mapped to
 * problem+json in one place (http/problem.ts). Domain code never sees HTTP types. This is the
 * one list of Problem `code`s: the OpenAPI document enumerates exactly these, with their
 * descriptions, so a new code is added here (with its description) or nowhere.
 */
export const ERRORS = {
  validation_failed: {
    status: 400,
    title: 'The request has invalid fields',
    description: 'A field, query parameter or part is invalid; `errors[]` names each one.',
  },
  bad_request: {
    status: 400,
    title: 'The request is malformed',
    description: 'The request cannot be read: malformed JSON or multipart, a path id that is not a UUID.',
  },
  unauthenticated: {
    status: 401,
    title: 'Authentication required',
    description:
      'No bearer token, or one that does not verify (malformed, signature, issuer, audience, not yet valid); an expired one is `token_expired`.',
  },
  token_expired: {
    status: 401,
    title: 'The access token has expired',
    description:
      'The bearer token was genuine but is past its `exp` (beyond the clock tolerance): refresh it and send the request again. Every other token problem is `unauthenticated`.',
  },
  dpop_required: {
    status: 401,
    title: 'A DPoP proof is required',
    description: "A token bound to a device key (or a device's token) sent without its DPoP proof (RFC 9449).",
  },
  dpop_invalid: {
    status: 401,
    title: 'The DPoP proof is invalid',
    description: 'The DPoP proof is malformed, for another request, too old or too new, or for another token.',
  },
  dpop_replayed: {
    status: 401,
    title: 'The DPoP proof was already used',
    description: 'The DPoP proof was already used (same `jti`): a copied request.',
  },
  dpop_key_mismatch: {
    status: 401,
    title: "The DPoP proof key is not the token's key",
    description: 'The DPoP proof is signed by another key than the one the token is bound to.',
  },
  device_revoked: {
    status: 401,
    title: 'This device has been revoked',
    description: 'An administrator revoked the device: it must wipe itself and report it.',
  },
  forbidden: {
    status: 403,
    title: 'Not allowed',
    description: "The caller's role (or relation to the X-ray) does not allow this action.",
  },
  not_found: {
    status: 404,
    title: 'Not found',
    description:
      'No such resource or route, or one the caller may not see: the answer is the same, so probing ids tells nothing.',
  },
  method_not_allowed: {
    status: 405,
    title: 'Method not allowed',
    description: 'The path exists but does not take this method; the `Allow` header lists the ones it takes.',
  },
  not_acceptable: {
    status: 406,
    title: 'Not acceptable',
    description:
      'The `Accept` header asks for a media type or DICOM transfer syntax this resource is not served as (DICOMweb).',
  },
  request_timeout: {
    status: 408,
    title: 'The client went silent',
    description: 'The request body stopped arriving; for a tus upload what arrived is kept: resume from `HEAD`.',
  },
  conflict: {
    status: 409,
    title: 'Conflict with the stored X-ray',
    description:
      'The X-ray id is already stored and this upload is not an exact replay of it (same user, same details, same bytes; the answer is the same whatever differs), or the upload is busy or already complete; `Retry-After` when it is busy.',
  },
  upload_complete: {
    status: 409,
    title: 'The upload is already stored as an X-ray',
    description: 'A tus termination of an upload that is an X-ray now: nothing was removed.',
  },
  xray_deleted: {
    status: 410,
    title: 'This X-ray was deleted',
    description:
      'An upload (POST /xrays, or tus creation or completion) under the id of an X-ray that was deleted: its id is never stored again. Final: nothing was stored; do not send it again.',
  },
  precondition_failed: {
    status: 412,
    title: 'A precondition of the request is not met',
    description:
      "An `If-Match` that is not the X-ray's current `ETag` (it changed since it was read: read it again, then decide), or a missing or unsupported tus protocol header.",
  },
  payload_too_large: {
    status: 413,
    title: 'The upload is larger than allowed',
    description: 'The body is larger than allowed (`MAX_UPLOAD_BYTES` for an X-ray).',
  },
  headers_too_large: {
    status: 431,
    title: 'The request headers are too large',
    description:
      'The request line and headers together pass what the server reads (16 KiB): a cookie jar, a very long `Accept` or query; nothing was done.',
  },
  unsupported_media_type: {
    status: 415,
    title: 'Not a supported X-ray format',
    description:
      'Not DICOM, PNG or JPEG, a DICOM transfer syntax not accepted, or a request body of the wrong Content-Type.',
  },
  range_not_satisfiable: {
    status: 416,
    title: 'Range not satisfiable',
    description: 'The `Range` does not fit the file; `Content-Range` gives its length.',
  },
  checksum_mismatch: {
    status: 422,
    title: 'The content does not match its SHA-256',
    description: 'The bytes received do not match the declared sha256; nothing was stored.',
  },
  ciphertext_invalid: {
    status: 422,
    title: 'The encrypted upload does not decrypt',
    description: 'The XRE1 upload does not decrypt with its data key (damaged, truncated or spliced).',
  },
  content_invalid: {
    status: 422,
    title: 'The file is not a valid image of its type',
    description: 'The file is damaged, cut off, or another format rides along with the image.',
  },
  not_renderable: {
    status: 422,
    title: 'The X-ray cannot be rendered',
    description:
      'A rendered image or preview of an X-ray that has no pixel data, or pixels this server does not render (a transfer syntax with no decoder here, a photometric interpretation other than MONOCHROME1/2, RGB or YBR, more than 16 bits), or more pixels or bytes than RENDER_MAX_PIXELS / RENDER_MAX_INPUT_BYTES allow.',
  },
  upload_busy: {
    status: 423,
    title: 'The upload is being stored',
    description:
      'A tus HEAD of an upload whose bytes are all in while its X-ray is still being stored after the wait for its lock: ask again after `Retry-After` to learn the X-ray.',
  },
  too_many_requests: {
    status: 429,
    title: 'Too many requests',
    description:
      'Too many failed authentications from this address, or too many uploads at once; `Retry-After` says when to retry.',
  },
  too_many_downloads: {
    status: 429,
    title: 'Too many downloads at once',
    description:
      'Answers streaming stored X-ray bytes (download, WADO-RS retrieve, Retrieve Frames): each user may have DOWNLOAD_MAX_STREAMS_PER_USER at once per instance and sixteen times as many waiting their turn; this one found the line full, or waited DOWNLOAD_STREAM_WAIT_MS in it. `Retry-After` says when to retry.',
  },
  client_closed: {
    status: 499,
    title: 'The client closed the connection',
    description: 'The client went away before its body was complete (logged; a client rarely sees it).',
  },
  storage_failed: {
    status: 503,
    title: 'Object storage is unavailable',
    description: 'Object storage failed; nothing was done. `Retry-After` says when to retry.',
  },
  render_busy: {
    status: 503,
    title: 'Every render slot is busy',
    description:
      'Rendering decodes a whole X-ray in memory, so only RENDER_CONCURRENCY renders run at once and RENDER_QUEUE_LIMIT wait; this one found the queue full. `Retry-After` says when to retry (a cached render is never refused).',
  },
  unavailable: {
    status: 503,
    title: 'A dependency is unavailable',
    description:
      'The database, object storage or the Patient Service is unavailable; nothing was done. `Retry-After` says when to retry.',
  },
  internal: {
    status: 500,
    title: 'Internal error',
    description: 'A server fault; the request was not completed.',
  },
  integrity_failed: {
    status: 500,
    title: 'The stored X-ray failed an integrity check',
    description:
      'Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash).',
  },
} as const satisfies Record<string, ErrorEntry>;

export type ErrorCode = keyof typeof ERRORS;

export class DomainError extends Error {
  override name = 'DomainError';
  /**
   * Set when this refusal is the policy keeping someone out, whatever its status (a 404 or 409
   * that must look like any other to the caller): the audit trail records it as `access.denied`.
   */
  readonly denial: string | undefined;
  /** Seconds the client should wait before trying again (429, 503). */
  readonly retryAfterS: number | undefined;
  /** What only the audit trail may know about this refusal (never sent to the client). */
  readonly auditDetails: Record<string, unknown> | undefined;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly fields?: FieldError[],
    options?: { cause?: unknown; denial?: string; retryAfterS?: number; auditDetails?: Record<string, unknown> },
  ) {
    super(message, options);
    this.denial = options?.denial;
    this.retryAfterS = options?.retryAfterS;
    this.auditDetails = options?.auditDetails;
  }
}

export const isDomainError = (e: unknown): e is DomainError => e instanceof DomainError;

/** A refused authentication, whatever its reason (no token, a bad token, a bad DPoP proof, a revoked device). */
export const isAuthenticationFailure = (e: unknown): e is DomainError =>
  isDomainError(e) && ERRORS[e.code].status === 401;

/**
 * The one answer for an X-ray or upload the caller may not see, whether it does not exist or is
 * someone else's: the same status, code and detail (no id echoed), so probing ids tells nothing.
 * Only the audit trail tells the two apart (`denial`).
 */
export const noSuch = (what: 'X-ray' | 'upload', options?: { denial?: string }): DomainError =>
  new DomainError('not_found', `There is no such ${what}.`, undefined, options);
