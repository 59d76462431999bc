import { EventEmitter } from 'node:events';
import type { Response } from 'express';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DownloadSlots, type DownloadSlotOutcome } from './download-slots.ts';

/** A response as the slots see it: it closes once (finished, aborted or cut), destroyed from then on. */
class FakeResponse extends EventEmitter {
  destroyed = false;
  close(): void {
    this.destroyed = true;
    this.emit('close');
  }
}
const response = () => new FakeResponse();
const asRes = (r: FakeResponse) => r as unknown as Response;

function slots(settings = { perUser: 2, queuePerUser: 2, maxWaitMs: 30_000 }) {
  const outcomes: DownloadSlotOutcome[] = [];
  return { slots: new DownloadSlots(settings, (o) => outcomes.push(o)), outcomes };
}

/** Whether `p` has settled by now (its callbacks run before this resolves). */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  await Promise.resolve();
  await Promise.resolve();
  return done;
}

describe('DownloadSlots', () => {
  afterEach(() => vi.useRealTimers());

  it('a user gets `perUser` at once; more wait in order and each gets the slot of one that closes', async () => {
    const { slots: s, outcomes } = slots();
    const [a, b, c, d] = [response(), response(), response(), response()];
    await s.take(asRes(a), 'u');
    await s.take(asRes(b), 'u');
    const order: string[] = [];
    const tc = s.take(asRes(c), 'u').then(() => order.push('c'));
    const td = s.take(asRes(d), 'u').then(() => order.push('d'));
    expect(s.load('u')).toEqual({ active: 2, waiting: 2 });
    expect(await settled(tc)).toBe(false);

    b.close();
    await tc;
    expect(order).toEqual(['c']);
    expect(s.load('u')).toEqual({ active: 2, waiting: 1 });
    a.close();
    await td;
    expect(order).toEqual(['c', 'd']);

    c.close();
    d.close();
    expect(s.load('u')).toEqual({ active: 0, waiting: 0 });
    expect(outcomes).toEqual(['at_once', 'at_once', 'waited', 'waited']);
  });

  it("another user's requests never wait behind a user's full slots", async () => {
    const { slots: s } = slots({ perUser: 1, queuePerUser: 1, maxWaitMs: 30_000 });
    await s.take(asRes(response()), 'a');
    void s.take(asRes(response()), 'a');
    await expect(s.take(asRes(response()), 'a')).rejects.toMatchObject({ code: 'too_many_downloads' });
    await s.take(asRes(response()), 'b');
    expect(s.load('b')).toEqual({ active: 1, waiting: 0 });
  });

  it('past the line the request is refused at once: 429 too_many_downloads with Retry-After, nothing taken', async () => {
    const { slots: s, outcomes } = slots();
    for (let i = 0; i < 2; i++) await s.take(asRes(response()), 'u');
    for (let i = 0; i < 2; i++) void s.take(asRes(response()), 'u');
    const refused = await s.take(asRes(response()), 'u').catch((err: unknown) => err);
    expect(refused).toMatchObject({
      code: 'too_many_downloads',
      retryAfterS: 5,
      auditDetails: { streaming: 2, waiting: 2 },
    });
    expect(s.load('u')).toEqual({ active: 2, waiting: 2 });
    expect(outcomes.at(-1)).toBe('queue_full');
  });

  it('one that waits `maxWaitMs` is refused and leaves the line; the slot freed later goes to the next', async () => {
    vi.useFakeTimers();
    const { slots: s, outcomes } = slots({ perUser: 1, queuePerUser: 2, maxWaitMs: 30_000 });
    const holder = response();
    await s.take(asRes(holder), 'u');
    const late = s.take(asRes(response()), 'u').catch((err: unknown) => err);
    await vi.advanceTimersByTimeAsync(10_000);
    const next = s.take(asRes(response()), 'u');
    await vi.advanceTimersByTimeAsync(20_000);
    expect(await late).toMatchObject({ code: 'too_many_downloads', retryAfterS: 5 });
    expect(s.load('u')).toEqual({ active: 1, waiting: 1 });
    holder.close();
    await next;
    // Its own clock: it had waited 20 s of its 30.
    expect(s.load('u')).toEqual({ active: 1, waiting: 0 });
    expect(outcomes).toEqual(['at_once', 'timed_out', 'waited']);
  });

  it('a client that goes away while waiting leaves the line at once (client_closed) and is never handed a slot', async () => {
    const { slots: s, outcomes } = slots({ perUser: 1, queuePerUser: 2, maxWaitMs: 30_000 });
    const holder = response();
    await s.take(asRes(holder), 'u');
    const gone = response();
    const left = s.take(asRes(gone), 'u').catch((err: unknown) => err);
    const next = response();
    const tn = s.take(asRes(next), 'u');
    gone.close();
    expect(await left).toMatchObject({ code: 'client_closed' });
    expect(s.load('u')).toEqual({ active: 1, waiting: 1 });
    holder.close();
    await tn;
    expect(s.load('u')).toEqual({ active: 1, waiting: 0 });
    next.close();
    expect(s.load('u')).toEqual({ active: 0, waiting: 0 });
    expect(outcomes).toEqual(['at_once', 'left', 'waited']);
  });

  it('a waiter whose response is already destroyed (its close not yet heard) is skipped for the next', async () => {
    const { slots: s, outcomes } = slots({ perUser: 1, queuePerUser: 2, maxWaitMs: 30_000 });
    const holder = response();
    await s.take(asRes(holder), 'u');
    const gone = response();
    const left = s.take(asRes(gone), 'u').catch((err: unknown) => err);
    const next = response();
    const tn = s.take(asRes(next), 'u');
    gone.destroyed = true;
    holder.close();
    await tn;
    expect(await left).toMatchObject({ code: 'client_closed' });
    expect(s.load('u')).toEqual({ active: 1, waiting: 0 });
    expect(outcomes).toEqual(['at_once', 'left', 'waited']);
  });

  it('a response already closed takes nothing', async () => {
    const { slots: s } = slots();
    const r = response();
    r.close();
    await expect(s.take(asRes(r), 'u')).rejects.toMatchObject({ code: 'client_closed' });
    expect(s.load('u')).toEqual({ active: 0, waiting: 0 });
  });
});
