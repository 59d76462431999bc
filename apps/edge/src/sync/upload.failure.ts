import { ProblemSchema, type FieldError } from '@xray/shared';

/** An RFC 9457 problem as far as the edge reads it. */
export interface ProblemInfo {
  code?: string;
  title?: string;
  detail?: string;
  errors?: FieldError[];
}

/** Why one upload attempt did not end in a confirmed X-ray. */
export type UploadFailure =
  /** A server answered with an error status. */
  | { kind: 'http'; method: string; status: number; retryAfterMs?: number; problem?: ProblemInfo; message: string }
  /** No answer: offline, connection cut, DNS, CORS, server down. */
  | { kind: 'network'; message: string }
  /** The request went out but nothing moved for the stall timeout (a tunnel, a cell handover): aborted. */
  | { kind: 'stalled'; message: string }
  /** The upload finished but the server did not (yet) show the X-ray: send again. */
  | { kind: 'unconfirmed'; message: string }
  /** The server holds other content under this capture's id. */
  | { kind: 'mismatch'; message: string }
  /** The server's upload key set holds no key this device pinned (nor one a pinned key signed). */
  | { kind: 'untrusted-key'; message: string }
  /** Something on this device (a missing ciphertext, an undecryptable key). */
  | { kind: 'local'; message: string };

/** Reads an RFC 9457 problem body; anything else (no body, not JSON, not a problem) is undefined. */
export function parseProblem(body: string | undefined): ProblemInfo | undefined {
  if (!body) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return undefined;
  }
  return readProblem(value);
}

/** An RFC 9457 problem from a body already parsed (openapi-fetch's `error`); anything else is undefined. */
export function readProblem(value: unknown): ProblemInfo | undefined {
  const parsed = ProblemSchema.safeParse(value);
  if (!parsed.success) return undefined;
  const { code, title, detail, errors } = parsed.data;
  return { code, title, detail, ...(errors?.length ? { errors } : {}) };
}

/** "Upload-Metadata has invalid X-ray fields: metadata.bodyPart must be …" */
export function problemMessage(problem: ProblemInfo | undefined, fallback: string): string {
  if (!problem) return fallback;
  const head = problem.detail ?? problem.title ?? fallback;
  const fields = problem.errors?.map((e) => `${e.field} ${e.message}`).join('; ');
  return fields ? `${head} (${fields})` : head;
}

/** Retry-After as milliseconds (seconds or an HTTP date), if present and sane. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
