import type { CaptureError, CaptureRecord, CaptureStatus } from '../db/edge.records.ts';
import type { RetryDecision } from './retry.policy.ts';

/**
 * The queue's state machine, as a pure function: given a capture and what happened, the
 * changes to write, or null when the event does not apply in the capture's state (a stale
 * event after a reload or from another tab is ignored, never applied twice).
 *
 *   queued ──claim──▶ uploading(%) ──uploaded──▶ verifying ──confirmed──▶ synced ──purged──▶ synced (no ciphertext)
 *   retrying(due) ──claim──▶ uploading
 *   uploading|verifying ──failed──▶ retrying(next attempt) | queued (offline, no token) | needs-attention
 *   uploading|verifying ──interrupted──▶ queued (engine stopped, page closed, paused for an urgent capture)
 *
 * What the server confirmed (`progress.accepted`) is kept through failures and interruptions, so
 * a waiting capture still shows how far it got, and the next attempt resumes from there.
 *   needs-attention ──edited──▶ queued
 */
export type CaptureEvent =
  | { type: 'claim'; now: number }
  /** `accepted`: the server confirmed this many bytes (a chunk was accepted). */
  | { type: 'progress'; sent: number; total: number; accepted?: number; now: number }
  | { type: 'uploaded'; now: number }
  | { type: 'confirmed'; now: number; retentionMs: number }
  | { type: 'failed'; decision: RetryDecision; error: CaptureError; progressed: boolean; now: number }
  | { type: 'interrupted'; now: number }
  | { type: 'purged'; now: number };

export type CapturePatch = Partial<CaptureRecord>;

const inFlight = (s: CaptureStatus): boolean => s === 'uploading' || s === 'verifying';

/** A queued capture, or a retrying one whose time has come, may start. */
export function isDue(c: Pick<CaptureRecord, 'status' | 'nextAttemptAt'>, now: number): boolean {
  return c.status === 'queued' || (c.status === 'retrying' && (c.nextAttemptAt ?? 0) <= now);
}

export function transition(c: CaptureRecord, e: CaptureEvent): CapturePatch | null {
  switch (e.type) {
    case 'claim':
      if (!isDue(c, e.now)) return null;
      return {
        status: 'uploading',
        progress: kept(c) ?? { sent: 0, total: c.ciphertextSize },
        nextAttemptAt: undefined,
        updatedAt: e.now,
      };
    case 'progress':
      if (c.status !== 'uploading') return null;
      return {
        progress: {
          sent: e.sent,
          total: e.total,
          ...((e.accepted ?? c.progress?.accepted) !== undefined
            ? { accepted: Math.max(e.accepted ?? 0, c.progress?.accepted ?? 0) }
            : {}),
        },
        updatedAt: e.now,
      };
    case 'uploaded':
      if (c.status !== 'uploading') return null;
      return { status: 'verifying', progress: { sent: c.ciphertextSize, total: c.ciphertextSize }, updatedAt: e.now };
    case 'confirmed':
      if (!inFlight(c.status)) return null;
      return {
        status: 'synced',
        syncedAt: e.now,
        purgeAfter: e.now + e.retentionMs,
        attempts: 0,
        progress: undefined,
        nextAttemptAt: undefined,
        lastError: undefined,
        updatedAt: e.now,
      };
    case 'failed': {
      if (!inFlight(c.status)) return null;
      // An attempt that got chunks accepted starts the backoff over: progress is not failure.
      const attempts = e.progressed ? 1 : c.attempts + 1;
      const base = { progress: kept(c), lastError: e.error, updatedAt: e.now };
      switch (e.decision.action) {
        case 'retry':
          return { ...base, status: 'retrying', attempts, nextAttemptAt: e.now + e.decision.delayMs };
        case 'wait-online':
        case 'wait-token':
          // Waiting for the network or a sign-in is not the capture's fault: no attempt counted.
          return { ...base, status: 'queued', nextAttemptAt: undefined };
        case 'give-up':
          return { ...base, status: 'needs-attention', attempts, nextAttemptAt: undefined };
      }
      return null;
    }
    case 'interrupted':
      if (!inFlight(c.status)) return null;
      return { status: 'queued', progress: kept(c), updatedAt: e.now };
    case 'purged':
      if (c.status !== 'synced' || c.purgedAt !== undefined) return null;
      return { purgedAt: e.now, purgeAfter: undefined, updatedAt: e.now };
  }
}

/** The part of an upload the server confirmed, as the progress a waiting capture shows (or none). */
function kept(c: CaptureRecord): CaptureRecord['progress'] {
  const accepted = c.progress?.accepted;
  if (!accepted || accepted <= 0) return undefined;
  const total = c.progress?.total ?? c.ciphertextSize;
  return { sent: Math.min(accepted, total), total, accepted: Math.min(accepted, total) };
}

type Ordered = Pick<CaptureRecord, 'status' | 'priority' | 'createdAt' | 'id'>;

/** Oldest first (the id breaks ties). */
const oldestFirst = (a: Ordered, b: Ordered): number => a.createdAt - b.createdAt || a.id.localeCompare(b.id);

/** Urgent first, then oldest first: the order in which due captures start. */
export function queueOrder(a: Ordered, b: Ordered): number {
  const rank = (c: Ordered): number => (c.priority === 'urgent' ? 0 : 1);
  return rank(a) - rank(b) || oldestFirst(a, b);
}

/** Not yet on the server and not waiting for a person: the captures the engine will send. */
const PENDING_STATUSES: readonly CaptureStatus[] = ['queued', 'retrying', 'uploading', 'verifying'];
const isPending = (c: Pick<CaptureRecord, 'status'>): boolean => PENDING_STATUSES.includes(c.status);

/**
 * Whether this capture keeps routine uploads off the uplink now ("urgent strictly first"): an
 * urgent capture waiting to go or in flight, or backing off after a stall or a lost connection
 * (the link is the problem: a routine upload would only take the bandwidth the urgent one needs
 * the moment it retries). An urgent capture backing off after a server error does not hold the
 * queue, so one the server keeps failing cannot stop every other upload.
 */
export function holdsUplink(
  c: Pick<CaptureRecord, 'status' | 'priority' | 'nextAttemptAt' | 'lastError'>,
  now: number,
): boolean {
  if (c.priority !== 'urgent' || !isPending(c)) return false;
  if (c.status !== 'retrying' || isDue(c, now)) return true;
  const code = c.lastError?.code;
  return code === 'network' || code === 'stalled';
}

/**
 * The queue as the paramedic reads it, in the engine's order: what will be sent (urgent first,
 * then oldest first), then what needs a person (oldest first), then the rest (synced: newest first).
 */
export function displayOrder(a: Ordered, b: Ordered): number {
  const group = (c: Ordered): number => (isPending(c) ? 0 : c.status === 'needs-attention' ? 1 : 2);
  const ga = group(a);
  const gb = group(b);
  if (ga !== gb) return ga - gb;
  if (ga === 0) return queueOrder(a, b);
  if (ga === 1) return oldestFirst(a, b);
  return b.createdAt - a.createdAt || a.id.localeCompare(b.id);
}
