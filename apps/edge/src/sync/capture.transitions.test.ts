import { describe, expect, it } from 'vitest';
import type { CaptureRecord } from '../db/edge.records.ts';
import { displayOrder, holdsUplink, isDue, queueOrder, transition } from './capture.transitions.ts';

const base = (over: Partial<CaptureRecord> = {}): CaptureRecord => ({
  id: 'c1',
  status: 'queued',
  priority: 'routine',
  createdAt: 1000,
  updatedAt: 1000,
  contentType: 'image/png',
  plaintextSize: 10,
  ciphertextSize: 100,
  sha256: 'a'.repeat(64),
  wrappedDek: new Uint8Array(40),
  keyId: 'device',
  encryptedMetadata: new Uint8Array(80),
  attempts: 0,
  ...over,
});
const err = { message: 'boom', at: 5 };

describe('capture state machine', () => {
  it('queued → uploading → verifying → synced, with progress and a purge time', () => {
    const claimed = transition(base(), { type: 'claim', now: 2 });
    expect(claimed).toMatchObject({ status: 'uploading', progress: { sent: 0, total: 100 } });
    const uploading = base({ ...claimed });
    expect(transition(uploading, { type: 'progress', sent: 40, total: 100, now: 3 })).toMatchObject({
      progress: { sent: 40 },
    });
    const verifying = base({ ...uploading, ...transition(uploading, { type: 'uploaded', now: 4 }) });
    expect(verifying.status).toBe('verifying');
    const synced = transition(verifying, { type: 'confirmed', now: 5, retentionMs: 100 });
    expect(synced).toMatchObject({ status: 'synced', syncedAt: 5, purgeAfter: 105, attempts: 0 });
  });

  it('a retrying capture starts only when its time has come', () => {
    const retrying = base({ status: 'retrying', nextAttemptAt: 10 });
    expect(isDue(retrying, 9)).toBe(false);
    expect(transition(retrying, { type: 'claim', now: 9 })).toBeNull();
    expect(transition(retrying, { type: 'claim', now: 10 })).toMatchObject({
      status: 'uploading',
      nextAttemptAt: undefined,
    });
  });

  it('failures follow the decision: retrying with a time, queued while waiting, needs-attention when final', () => {
    const up = base({ status: 'uploading', attempts: 2 });
    expect(
      transition(up, {
        type: 'failed',
        decision: { action: 'retry', delayMs: 50 },
        error: err,
        progressed: false,
        now: 100,
      }),
    ).toMatchObject({
      status: 'retrying',
      nextAttemptAt: 150,
      attempts: 3,
      lastError: err,
    });
    expect(
      transition(up, {
        type: 'failed',
        decision: { action: 'retry', delayMs: 50 },
        error: err,
        progressed: true,
        now: 100,
      }),
    ).toMatchObject({ attempts: 1 });
    expect(
      transition(up, { type: 'failed', decision: { action: 'wait-online' }, error: err, progressed: false, now: 100 }),
    ).toMatchObject({ status: 'queued' });
    expect(
      transition(up, { type: 'failed', decision: { action: 'wait-token' }, error: err, progressed: false, now: 100 }),
    ).not.toHaveProperty('attempts');
    expect(
      transition(up, { type: 'failed', decision: { action: 'give-up' }, error: err, progressed: false, now: 100 }),
    ).toMatchObject({
      status: 'needs-attention',
      lastError: err,
    });
  });

  it('ignores events that do not apply (stale after a reload, or from another tab)', () => {
    expect(transition(base({ status: 'synced' }), { type: 'claim', now: 1 })).toBeNull();
    expect(
      transition(base({ status: 'synced' }), {
        type: 'failed',
        decision: { action: 'give-up' },
        error: err,
        progressed: false,
        now: 1,
      }),
    ).toBeNull();
    expect(transition(base({ status: 'queued' }), { type: 'progress', sent: 1, total: 2, now: 1 })).toBeNull();
    expect(transition(base({ status: 'needs-attention' }), { type: 'claim', now: 1 })).toBeNull();
    expect(transition(base({ status: 'queued' }), { type: 'purged', now: 1 })).toBeNull();
  });

  it('an interrupted upload is queued again; a purge happens once', () => {
    expect(transition(base({ status: 'verifying' }), { type: 'interrupted', now: 1 })).toMatchObject({
      status: 'queued',
    });
    const synced = base({ status: 'synced', purgeAfter: 5 });
    const purged = base({ ...synced, ...transition(synced, { type: 'purged', now: 6 }) });
    expect(purged.purgedAt).toBe(6);
    expect(transition(purged, { type: 'purged', now: 7 })).toBeNull();
  });

  it('orders urgent first, then oldest first', () => {
    const list = [
      base({ id: 'r-old', createdAt: 1 }),
      base({ id: 'u-new', priority: 'urgent', createdAt: 9 }),
      base({ id: 'r-new', createdAt: 5 }),
      base({ id: 'u-old', priority: 'urgent', createdAt: 3 }),
    ];
    expect(list.sort(queueOrder).map((c) => c.id)).toEqual(['u-old', 'u-new', 'r-old', 'r-new']);
  });

  it('keeps what the server confirmed through a stall, a cut or a pause, and resumes the bar from there', () => {
    const up = base({ status: 'uploading', progress: { sent: 0, total: 100 } });
    const inFlight = base({
      ...up,
      ...transition(up, { type: 'progress', sent: 60, total: 100, accepted: 40, now: 2 }),
    });
    expect(inFlight.progress).toEqual({ sent: 60, total: 100, accepted: 40 });
    // A later progress event without a confirmation keeps the confirmed part.
    const later = base({ ...inFlight, ...transition(inFlight, { type: 'progress', sent: 70, total: 100, now: 3 }) });
    expect(later.progress).toEqual({ sent: 70, total: 100, accepted: 40 });

    const retry = { action: 'retry', delayMs: 8000 } as const;
    const stalled = transition(later, { type: 'failed', decision: retry, error: err, progressed: true, now: 4 });
    expect(stalled).toMatchObject({ status: 'retrying', progress: { sent: 40, total: 100, accepted: 40 } });
    const cut = transition(later, {
      type: 'failed',
      decision: { action: 'wait-online' },
      error: err,
      progressed: false,
      now: 4,
    });
    expect(cut).toMatchObject({ status: 'queued', progress: { sent: 40, total: 100 } });
    const paused = base({ ...later, ...transition(later, { type: 'interrupted', now: 4 }) });
    expect(paused).toMatchObject({ status: 'queued', progress: { sent: 40, total: 100, accepted: 40 } });
    // The next attempt starts from the kept part, not from 0.
    expect(transition(paused, { type: 'claim', now: 5 })).toMatchObject({ progress: { sent: 40, total: 100 } });

    // Nothing confirmed yet: nothing to keep (no bar pretending otherwise).
    const early = base({ status: 'uploading', progress: { sent: 30, total: 100 } });
    expect(transition(early, { type: 'interrupted', now: 4 })).toMatchObject({ progress: undefined });
  });

  it('an urgent capture holds the uplink while it waits or sends, and after a stall or cut, not after a server error', () => {
    const now = 1000;
    const urgent = (over: Partial<CaptureRecord>) => base({ priority: 'urgent', ...over });
    expect(holdsUplink(urgent({ status: 'queued' }), now)).toBe(true);
    expect(holdsUplink(urgent({ status: 'uploading' }), now)).toBe(true);
    expect(holdsUplink(urgent({ status: 'verifying' }), now)).toBe(true);
    expect(holdsUplink(urgent({ status: 'retrying', nextAttemptAt: now }), now)).toBe(true);
    const later = { status: 'retrying', nextAttemptAt: now + 8000 } as const;
    expect(holdsUplink(urgent({ ...later, lastError: { ...err, code: 'stalled' } }), now)).toBe(true);
    expect(holdsUplink(urgent({ ...later, lastError: { ...err, code: 'network' } }), now)).toBe(true);
    expect(holdsUplink(urgent({ ...later, lastError: { ...err, status: 503 } }), now)).toBe(false);
    expect(holdsUplink(urgent({ status: 'needs-attention' }), now)).toBe(false);
    expect(holdsUplink(urgent({ status: 'synced' }), now)).toBe(false);
    expect(holdsUplink(base({ status: 'queued' }), now)).toBe(false);
  });

  it('lists the queue in the order it is sent: urgent, then oldest; then what needs a person; then synced, newest first', () => {
    const list = [
      base({ id: 'synced-old', status: 'synced', createdAt: 1 }),
      base({ id: 'routine-new', createdAt: 8 }),
      base({ id: 'attention', status: 'needs-attention', createdAt: 2 }),
      base({ id: 'urgent-last', priority: 'urgent', createdAt: 9 }),
      base({ id: 'routine-uploading', status: 'uploading', createdAt: 4 }),
      base({ id: 'synced-new', status: 'synced', createdAt: 7 }),
      base({ id: 'routine-retrying', status: 'retrying', createdAt: 3 }),
    ];
    expect(list.sort(displayOrder).map((c) => c.id)).toEqual([
      'urgent-last',
      'routine-retrying',
      'routine-uploading',
      'routine-new',
      'attention',
      'synced-new',
      'synced-old',
    ]);
  });
});
