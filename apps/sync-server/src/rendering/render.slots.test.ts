import { describe, expect, it } from 'vitest';
import { DomainError } from '../errors.ts';
import { RenderSlots } from './render.slots.ts';

/** A piece of work that finishes when told to. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, work: () => opened };
}

describe('RenderSlots', () => {
  it('runs at most `concurrency` at once, queues up to `queueLimit`, refuses the rest with render_busy and Retry-After', async () => {
    const slots = new RenderSlots(2, 1, 3);
    const [a, b, c] = [gate(), gate(), gate()];
    const ra = slots.run(a.work);
    const rb = slots.run(b.work);
    const rc = slots.run(c.work);
    expect(slots.load).toEqual({ active: 2, waiting: 1 });
    const refused = await slots.run(() => Promise.resolve()).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(DomainError);
    expect(refused).toMatchObject({ code: 'render_busy', retryAfterS: 3 });
    a.open();
    await ra;
    // The queued one took the freed slot: still two running, none waiting.
    expect(slots.load).toEqual({ active: 2, waiting: 0 });
    b.open();
    c.open();
    await Promise.all([rb, rc]);
    expect(slots.load).toEqual({ active: 0, waiting: 0 });
  });

  it('a failing render frees its slot', async () => {
    const slots = new RenderSlots(1, 0);
    await expect(slots.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(slots.run(() => Promise.resolve(7))).resolves.toBe(7);
    expect(slots.load).toEqual({ active: 0, waiting: 0 });
  });
});
