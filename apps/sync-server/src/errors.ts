import type { FieldError } from '@xray/shared';

/**
 * The domain's error catalogue: each code has one HTTP status and title, mapped to
 * problem+json in one place (http/problem.ts). Domain code never sees HTTP types.
 */
export const ERRORS = {
  validation_failed: { status: 400, title: 'The request has invalid fields' },
  bad_request: { status: 400, title: 'The request is malformed' },
  unauthenticated: { status: 401, title: 'Authentication required' },
  forbidden: { status: 403, title: 'Not allowed' },
  not_found: { status: 404, title: 'Not found' },
  conflict: { status: 409, title: 'Conflict with the stored X-ray' },
  payload_too_large: { status: 413, title: 'The upload is larger than allowed' },
  unsupported_media_type: { status: 415, title: 'Not a supported X-ray format' },
  range_not_satisfiable: { status: 416, title: 'Range not satisfiable' },
  checksum_mismatch: { status: 422, title: 'The content does not match its SHA-256' },
  ciphertext_invalid: { status: 422, title: 'The encrypted upload does not decrypt' },
  client_closed: { status: 499, title: 'The client closed the connection' },
  storage_failed: { status: 503, title: 'Object storage is unavailable' },
  unavailable: { status: 503, title: 'A dependency is unavailable' },
  internal: { status: 500, title: 'Internal error' },
} as const;

export type ErrorCode = keyof typeof ERRORS;

export class DomainError extends Error {
  override name = 'DomainError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly fields?: FieldError[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const isDomainError = (e: unknown): e is DomainError => e instanceof DomainError;
