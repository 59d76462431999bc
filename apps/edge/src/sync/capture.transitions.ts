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
 *   uploading|verifying ──interrupted──▶ queued (engine stopped, page closed)
 *   needs-attention ──edited──▶ queued
 */
export type CaptureEvent =
  | { type: 'claim'; now: number }
  | { type: 'progress'; sent: number; total: number; now: number }
  | { type: 'uploaded'; now: number }
  | { type: 'confirmed'; now: number; retentionMs: number }
  | { type: 'failed'; decision: RetryDecision; error: CaptureError; progressed: boolean; now: number }
  | { type: 'interrupted'; now: number }
  | { type: 'purged'; now: number };

export type CapturePatch = Partial<CaptureRecord>;

const inFlight = (s: CaptureStatus): boolean => s === 'uploading' || s === 'verifying';

/** A queued capture, or a retrying one whose time has come, may start. */
export function isDue(c: CaptureRecord, now: number): boolean {
  return c.status === 'queued' || (c.status === 'retrying' && (c.nextAttemptAt ?? 0) <= now);
}

export function transition(c: CaptureRecord, e: CaptureEvent): CapturePatch | null {
  switch (e.type) {
    case 'claim':
      if (!isDue(c, e.now)) return null;
      return {
        status: 'uploading',
        progress: { sent: 0, total: c.ciphertextSize },
        nextAttemptAt: undefined,
        updatedAt: e.now,
      };
    case 'progress':
      if (c.status !== 'uploading') return null;
      return { progress: { sent: e.sent, total: e.total }, updatedAt: e.now };
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
      const base = { progress: undefined, lastError: e.error, updatedAt: e.now };
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
      return { status: 'queued', progress: undefined, updatedAt: e.now };
    case 'purged':
      if (c.status !== 'synced' || c.purgedAt !== undefined) return null;
      return { purgedAt: e.now, purgeAfter: undefined, updatedAt: e.now };
  }
}

/** Urgent first, then oldest first: the order in which due captures start. */
export function queueOrder(a: CaptureRecord, b: CaptureRecord): number {
  const rank = (c: CaptureRecord): number => (c.priority === 'urgent' ? 0 : 1);
  return rank(a) - rank(b) || a.createdAt - b.createdAt || a.id.localeCompare(b.id);
}
