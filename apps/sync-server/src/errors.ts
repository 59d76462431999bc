import type { FieldError } from '@xray/shared';

/**
 * The domain's error catalogue: each code has one HTTP status and title, mapped to
 * problem+json in one place (http/problem.ts). Domain code never sees HTTP types.
 */
export const ERRORS = {
  validation_failed: { status: 400, title: 'The request has invalid fields' },
  bad_request: { status: 400, title: 'The request is malformed' },
  unauthenticated: { status: 401, title: 'Authentication required' },
  /** A token bound to a device key (or a device's token) sent without its DPoP proof (RFC 9449). */
  dpop_required: { status: 401, title: 'A DPoP proof is required' },
  /** The DPoP proof is malformed, for another request, too old or too new, or for another token. */
  dpop_invalid: { status: 401, title: 'The DPoP proof is invalid' },
  /** The DPoP proof was already used (same jti): a copied request. */
  dpop_replayed: { status: 401, title: 'The DPoP proof was already used' },
  /** The DPoP proof is signed by another key than the one the token is bound to. */
  dpop_key_mismatch: { status: 401, title: "The DPoP proof key is not the token's key" },
  /** The device was revoked by an administrator: it must wipe itself. */
  device_revoked: { status: 401, title: 'This device has been revoked' },
  forbidden: { status: 403, title: 'Not allowed' },
  not_found: { status: 404, title: 'Not found' },
  request_timeout: { status: 408, title: 'The client went silent' },
  conflict: { status: 409, title: 'Conflict with the stored X-ray' },
  upload_complete: { status: 409, title: 'The upload is already stored as an X-ray' },
  precondition_failed: { status: 412, title: 'A required protocol header is missing' },
  payload_too_large: { status: 413, title: 'The upload is larger than allowed' },
  unsupported_media_type: { status: 415, title: 'Not a supported X-ray format' },
  range_not_satisfiable: { status: 416, title: 'Range not satisfiable' },
  checksum_mismatch: { status: 422, title: 'The content does not match its SHA-256' },
  ciphertext_invalid: { status: 422, title: 'The encrypted upload does not decrypt' },
  content_invalid: { status: 422, title: 'The file is not a valid image of its type' },
  too_many_requests: { status: 429, title: 'Too many requests' },
  client_closed: { status: 499, title: 'The client closed the connection' },
  storage_failed: { status: 503, title: 'Object storage is unavailable' },
  unavailable: { status: 503, title: 'A dependency is unavailable' },
  internal: { status: 500, title: 'Internal error' },
  /** Stored data that is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash). */
  integrity_failed: { status: 500, title: 'The stored X-ray failed an integrity check' },
} as const;

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

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly fields?: FieldError[],
    options?: { cause?: unknown; denial?: string; retryAfterS?: number },
  ) {
    super(message, options);
    this.denial = options?.denial;
    this.retryAfterS = options?.retryAfterS;
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
