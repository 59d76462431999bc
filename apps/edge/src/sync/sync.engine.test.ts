import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  blobOf,
  engineRig,
  fakeServerKeys,
  smallDicom,
  smallJpeg,
  smallPng,
  validInput,
  type EngineRig,
} from '../../test/fixtures.ts';

// Fake clocks for the engine's timers and Date; fake-indexeddb runs on setImmediate, left real.
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: new Date('2026-11-27T08:00:00Z') });
});
afterEach(() => {
  vi.useRealTimers();
});

async function settle(rig: EngineRig): Promise<void> {
  await rig.engine.settled();
}

describe('sync engine (fake server, fake timers, fake-indexeddb)', () => {
  it('uploads the queue urgent first, one at a time, to synced with the server confirming id and sha256', async () => {
    const rig = await engineRig({ concurrency: 1 });
    const routine = await rig.capture(blobOf(smallPng(1)), validInput());
    const urgent = await rig.capture(blobOf(smallJpeg(2)), validInput({ priority: 'urgent' }));
    await rig.engine.start();
    await settle(rig);
    expect(rig.server.attempts.map((a) => a.captureId)).toEqual([urgent.id, routine.id]);
    expect(await rig.status(urgent.id)).toBe('synced');
    expect(await rig.status(routine.id)).toBe('synced');
    expect(rig.server.stored.get(urgent.id)).toBe(urgent.sha256);
    const meta = rig.server.attempts[0]?.metadata ?? {};
    expect(meta).toMatchObject({
      id: urgent.id,
      sha256: urgent.sha256,
      patientId: 'P-1001',
      bodyPart: 'CHEST',
      view: 'PA',
      priority: 'urgent',
      kid: 'test-kid',
    });
    expect(atob(meta.dek ?? '')).toHaveLength(256); // RSA-2048 OAEP
    expect((await rig.db.engineStatus())?.state).toBe('idle');
  });

  it("sends a capture's identity override as JSON text in Upload-Metadata (the server parses it)", async () => {
    const rig = await engineRig({ concurrency: 1 });
    const identityOverride = {
      fields: ['patientSex' as const],
      reason: 'Sex mis-keyed at the modality',
      decidedAt: '2026-11-27T08:14:00Z',
    };
    await rig.capture(
      blobOf(smallPng(3)),
      validInput({
        patientDecision: 'keep_chosen_patient',
        patientDecisionReason: identityOverride.reason,
        identityOverride,
      }),
    );
    await rig.engine.start();
    await settle(rig);
    const meta = rig.server.attempts[0]?.metadata ?? {};
    expect(JSON.parse(meta.identityOverride ?? 'null')).toEqual(identityOverride);
    expect(meta.patientDecision).toBe('keep_chosen_patient');
  });

  it('runs at most two uploads at a time', async () => {
    const rig = await engineRig({ concurrency: 2 });
    for (let i = 0; i < 4; i++) await rig.capture(blobOf(smallPng(10 + i)), validInput());
    rig.server.script = () => 'hang';
    await rig.engine.start();
    await vi.waitFor(async () => expect(await rig.db.captures.where('status').equals('uploading').count()).toBe(2));
    expect(await rig.db.captures.where('status').equals('queued').count()).toBe(2);
    await rig.engine.stop();
    expect(await rig.db.captures.where('status').equals('queued').count()).toBe(4);
  });

  it('retries a 503 after the backoff, visible as retrying with the next attempt time', async () => {
    const rig = await engineRig();
    const c = await rig.capture(blobOf(smallPng(3)), validInput());
    rig.server.script = (_req, n) =>
      n <= 2 ? { kind: 'http', method: 'PATCH', status: 503, message: 'Service Unavailable' } : 'ok';
    await rig.engine.start();
    await settle(rig);
    let rec = await rig.db.captures.get(c.id);
    expect(rec).toMatchObject({
      status: 'retrying',
      attempts: 1,
      nextAttemptAt: Date.now() + 750,
      lastError: { status: 503 },
    });

    await vi.advanceTimersByTimeAsync(749);
    await settle(rig);
    expect(rig.server.uploadsOf(c.id)).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    await settle(rig);
    rec = await rig.db.captures.get(c.id);
    expect(rec).toMatchObject({ status: 'retrying', attempts: 2, nextAttemptAt: Date.now() + 1500 });

    await vi.advanceTimersByTimeAsync(1500);
    await settle(rig);
    expect(await rig.status(c.id)).toBe('synced');
    expect(rig.server.uploadsOf(c.id)).toBe(3);
  });

  it('a 4xx puts that capture in needs-attention with the server message; the others sync', async () => {
    const rig = await engineRig({ concurrency: 1 });
    const bad = await rig.capture(blobOf(smallPng(4)), validInput({ priority: 'urgent' }));
    const good = await rig.capture(blobOf(smallJpeg(5)), validInput());
    rig.server.script = (req) =>
      req.captureId === bad.id
        ? {
            kind: 'http',
            method: 'POST',
            status: 400,
            problem: {
              code: 'validation_failed',
              errors: [{ field: 'metadata.bodyPart', message: 'must be a DICOM body part code' }],
            },
            message: 'Upload-Metadata has invalid X-ray fields. (metadata.bodyPart must be a DICOM body part code)',
          }
        : 'ok';
    await rig.engine.start();
    await settle(rig);
    expect(await rig.db.captures.get(bad.id)).toMatchObject({
      status: 'needs-attention',
      lastError: { status: 400, code: 'validation_failed', message: expect.stringContaining('metadata.bodyPart') },
    });
    expect(await rig.status(good.id)).toBe('synced');
    // Nothing more happens to it on its own, however long we wait.
    await vi.advanceTimersByTimeAsync(24 * 3600_000);
    await settle(rig);
    expect(rig.server.uploadsOf(bad.id)).toBe(1);
  });

  it('waits while offline (no attempts), and syncs on the online event', async () => {
    const rig = await engineRig();
    rig.network.online = false;
    const c = await rig.capture(blobOf(smallDicom()), validInput());
    await rig.engine.start();
    await settle(rig);
    expect(await rig.status(c.id)).toBe('queued');
    expect((await rig.db.engineStatus())?.state).toBe('offline');
    expect(rig.server.attempts).toHaveLength(0);
    rig.network.set(true);
    await settle(rig);
    expect(await rig.status(c.id)).toBe('synced');
  });

  it('going offline mid-upload stops it and queues it; it resumes when back online', async () => {
    const rig = await engineRig();
    const c = await rig.capture(blobOf(smallPng(6)), validInput());
    rig.server.script = (_r, n) => (n === 1 ? 'hang' : 'ok');
    await rig.engine.start();
    // The request is out (not just claimed): going offline must stop it.
    await vi.waitFor(() => expect(rig.server.uploadsOf(c.id)).toBe(1));
    rig.network.set(false);
    await settle(rig);
    expect(await rig.db.captures.get(c.id)).toMatchObject({ status: 'queued', attempts: 0 });
    rig.network.set(true);
    await settle(rig);
    expect(await rig.status(c.id)).toBe('synced');
  });

  it('waits visibly for a token, and for a new one after a 401, never dropping the capture', async () => {
    const rig = await engineRig({ tokenPollMs: 5_000 });
    rig.token.value = null;
    const c = await rig.capture(blobOf(smallPng(7)), validInput());
    await rig.engine.start();
    await settle(rig);
    expect((await rig.db.engineStatus())?.state).toBe('waiting-for-token');
    expect(await rig.status(c.id)).toBe('queued');

    rig.token.value = 'expired';
    rig.server.script = (req, n) =>
      n === 1 ? { kind: 'http', method: 'PATCH', status: 401, message: 'token expired' } : 'ok';
    await vi.advanceTimersByTimeAsync(5_000);
    await settle(rig);
    expect(await rig.db.captures.get(c.id)).toMatchObject({ status: 'queued', lastError: { status: 401 } });
    expect(await rig.db.engineStatus()).toMatchObject({
      state: 'waiting-for-token',
      detail: expect.stringContaining('expired'),
    });
    // The same refused token is not tried again.
    await vi.advanceTimersByTimeAsync(20_000);
    await settle(rig);
    expect(rig.server.uploadsOf(c.id)).toBe(1);

    rig.token.value = 'fresh';
    await vi.advanceTimersByTimeAsync(5_000);
    await settle(rig);
    expect(await rig.status(c.id)).toBe('synced');
    expect(rig.server.attempts.at(-1)?.token).toBe('fresh');
  });

  it('a token the server calls expired (token_expired) is handed back to be refreshed; any other 401 is not', async () => {
    const expired: string[] = [];
    const rig = await engineRig({ tokenPollMs: 5_000, onTokenExpired: (t) => expired.push(t) });
    rig.token.value = 'skewed';
    const c = await rig.capture(blobOf(smallPng(71)), validInput());
    rig.server.script = (_req, n) =>
      n === 1
        ? {
            kind: 'http',
            method: 'POST',
            status: 401,
            problem: { code: 'token_expired' },
            message: 'The access token has expired.',
          }
        : n === 2
          ? { kind: 'http', method: 'POST', status: 401, problem: { code: 'unauthenticated' }, message: 'bad token' }
          : 'ok';
    await rig.engine.start();
    await settle(rig);
    expect(expired).toEqual(['skewed']);
    expect(await rig.db.captures.get(c.id)).toMatchObject({ status: 'queued', lastError: { code: 'token_expired' } });
    // The sign-in refreshes: the next poll sends with the new token.
    rig.token.value = 'refreshed';
    await vi.advanceTimersByTimeAsync(5_000);
    await settle(rig);
    expect(await rig.db.captures.get(c.id)).toMatchObject({ status: 'queued', lastError: { code: 'unauthenticated' } });
    expect(expired).toEqual(['skewed']);
    rig.token.value = 'signed-in-again';
    await vi.advanceTimersByTimeAsync(5_000);
    await settle(rig);
    expect(await rig.status(c.id)).toBe('synced');
  });

  it('a creation refused with 409 for an id the server holds with this very capture: needs attention, saying the later changes were not applied', async () => {
    const rig = await engineRig();
    const mine = await rig.capture(blobOf(smallPng(72)), validInput());
    const other = await rig.capture(blobOf(smallPng(73)), validInput());
    // An earlier attempt stored `mine` (its answer lost); `other`'s id is held with other bytes.
    rig.server.stored.set(mine.id, mine.sha256);
    rig.server.stored.set(other.id, 'e'.repeat(64));
    const refused = {
      kind: 'http' as const,
      method: 'POST',
      status: 409,
      problem: { code: 'conflict' },
      message: 'This X-ray id is already used by a stored X-ray that this request does not repeat exactly.',
    };
    rig.server.script = () => refused;
    await rig.engine.start();
    await settle(rig);
    expect(await rig.db.captures.get(mine.id)).toMatchObject({
      status: 'needs-attention',
      lastError: { status: 409, code: 'conflict', message: expect.stringContaining('already on the server') },
    });
    expect(await rig.db.captures.get(other.id)).toMatchObject({
      status: 'needs-attention',
      lastError: { status: 409, message: refused.message },
    });
  });

  it('after a restart, an upload that was in flight is resumed', async () => {
    const rig = await engineRig();
    const c = await rig.capture(blobOf(smallPng(8)), validInput());
    // As a closed tab leaves it.
    await rig.db.captures.update(c.id, { status: 'uploading', progress: { sent: 10, total: 20 } });
    await rig.engine.start();
    await settle(rig);
    expect(await rig.status(c.id)).toBe('synced');
  });

  it('is synced only when the server confirms this id and sha256', async () => {
    const rig = await engineRig();
    const wrong = await rig.capture(blobOf(smallPng(9)), validInput());
    const silent = await rig.capture(blobOf(smallPng(10)), validInput());
    rig.server.script = (req) => {
      if (req.captureId === wrong.id) return { xrayId: wrong.id, sha256: 'f'.repeat(64) };
      // No confirmation headers: the engine asks GET /xrays/{id}.
      rig.server.stored.set(silent.id, silent.sha256);
      return { xrayId: null, sha256: null };
    };
    await rig.engine.start();
    await settle(rig);
    expect(await rig.db.captures.get(wrong.id)).toMatchObject({
      status: 'needs-attention',
      lastError: { code: 'mismatch' },
    });
    expect(await rig.status(silent.id)).toBe('synced');
  });

  it('an upload the server does not show afterwards is sent again', async () => {
    const rig = await engineRig();
    const c = await rig.capture(blobOf(smallPng(11)), validInput());
    rig.server.script = (_req, n) => (n === 1 ? { xrayId: null, sha256: null } : 'ok');
    await rig.engine.start();
    await settle(rig);
    expect(await rig.db.captures.get(c.id)).toMatchObject({ status: 'retrying', lastError: { code: 'unconfirmed' } });
    await vi.advanceTimersByTimeAsync(750);
    await settle(rig);
    expect(await rig.status(c.id)).toBe('synced');
  });

  it('a 429 holds every upload until Retry-After', async () => {
    const rig = await engineRig({ concurrency: 1 });
    const a = await rig.capture(blobOf(smallPng(12)), validInput({ priority: 'urgent' }));
    const b = await rig.capture(blobOf(smallPng(13)), validInput());
    rig.server.script = (req, n) =>
      req.captureId === a.id && n === 1
        ? { kind: 'http', method: 'PATCH', status: 429, retryAfterMs: 60_000, message: 'slow down' }
        : 'ok';
    await rig.engine.start();
    await settle(rig);
    expect(rig.server.uploadsOf(b.id)).toBe(0);
    await vi.advanceTimersByTimeAsync(59_999);
    await settle(rig);
    expect(rig.server.attempts).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    await settle(rig);
    expect([await rig.status(a.id), await rig.status(b.id)]).toEqual(['synced', 'synced']);
  });

  it('purges a synced capture’s ciphertext after the retention, keeping the record', async () => {
    const rig = await engineRig({ retentionMs: 60_000 });
    const c = await rig.capture(blobOf(smallPng(14)), validInput());
    await rig.engine.start();
    await settle(rig);
    expect(await rig.db.blobs.get(c.id)).toBeDefined();
    await vi.advanceTimersByTimeAsync(60_000);
    await settle(rig);
    expect(await rig.db.blobs.get(c.id)).toBeUndefined();
    expect(await rig.db.captures.get(c.id)).toMatchObject({ status: 'synced', purgedAt: Date.now() });
  });

  it('a data key wrapped for a key the server no longer has: fetch its key again and resend', async () => {
    const keys = fakeServerKeys();
    const rig = await engineRig({ serverKeys: keys });
    const c = await rig.capture(blobOf(smallPng(15)), validInput());
    rig.server.script = (_req, n) =>
      n === 1
        ? {
            kind: 'http',
            method: 'POST',
            status: 400,
            problem: {
              code: 'validation_failed',
              errors: [{ field: 'metadata.kid', message: 'is not a current upload key' }],
            },
            message: 'Unknown upload key',
          }
        : 'ok';
    await rig.engine.start();
    await settle(rig);
    expect(await rig.status(c.id)).toBe('retrying');
    expect(keys.refreshes).toBe(1);
    await vi.advanceTimersByTimeAsync(750);
    await settle(rig);
    expect(await rig.status(c.id)).toBe('synced');
  });
});
