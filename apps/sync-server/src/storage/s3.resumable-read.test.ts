import { randomBytes } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ResumableRead, type ReleasePolicy } from './s3.resumable-read.ts';

const pressed: ReleasePolicy = { whenPressedMs: 10, idleMs: 1_000, pressed: () => true };

const object = randomBytes(256 * 1024);

/** A response for bytes [from, to] of `object`, in 16 KiB chunks, that the test can leave unread. */
const responseOf = (from: number, to = object.length - 1) => {
  const body = new PassThrough({ highWaterMark: 16 * 1024 });
  const chunks: Buffer[] = [];
  for (let i = from; i <= to; i += 16 * 1024) chunks.push(object.subarray(i, Math.min(i + 16 * 1024, to + 1)));
  void (async () => {
    for (const c of chunks) if (!body.write(c)) await new Promise((r) => body.once('drain', r));
    body.end();
  })();
  return body;
};

const readAll = async (r: Readable) => {
  const got: Buffer[] = [];
  for await (const c of r) got.push(c as Buffer);
  return Buffer.concat(got);
};

describe('ResumableRead', () => {
  it('lets go of an unread response and reopens at the next byte; the reader sees the object', async () => {
    const first = responseOf(0);
    const reopened: number[] = [];
    const read = new ResumableRead(
      {
        body: first,
        start: 0,
        end: object.length - 1,
        reopen: (from) => (reopened.push(from), Promise.resolve(responseOf(from))),
      },
      pressed,
    );
    read.read(0); // takes in up to its highWaterMark, then nobody reads
    await new Promise((r) => read.once('released', r));
    expect(first.destroyed).toBe(true);
    expect(first.listenerCount('data')).toBe(0);
    expect((await readAll(read)).equals(object)).toBe(true);
    expect(reopened).toHaveLength(1);
    expect(reopened[0]).toBeGreaterThan(0); // what it had already taken is not asked for again
  });

  it('while no other read waits for a connection, keeps an unread response until idle for long', async () => {
    const first = responseOf(0);
    const read = new ResumableRead(
      { body: first, start: 0, end: object.length - 1, reopen: (from) => Promise.resolve(responseOf(from)) },
      { whenPressedMs: 10, idleMs: 80, pressed: () => false },
    );
    read.read(0);
    const t0 = performance.now();
    await new Promise((r) => read.once('released', r));
    expect(performance.now() - t0).toBeGreaterThanOrEqual(70);
    expect((await readAll(read)).equals(object)).toBe(true);
  });

  it('fails when a response ends short of its bytes, or the object cannot be reopened', async () => {
    const short = new ResumableRead(
      { body: responseOf(0, 999), start: 0, end: 1999, reopen: () => Promise.reject() },
      pressed,
    );
    await expect(readAll(short)).rejects.toThrow('ended at byte 1000 of 2000');

    const gone = new ResumableRead(
      { body: responseOf(0), start: 0, end: object.length - 1, reopen: () => Promise.reject(new Error('replaced')) },
      pressed,
    );
    await new Promise((r) => gone.once('released', r));
    await expect(readAll(gone)).rejects.toThrow('replaced');
  });

  it('passes on its response’s error', async () => {
    const body = new PassThrough();
    const read = new ResumableRead({ body, start: 0, end: 99, reopen: () => Promise.reject() }, pressed);
    body.destroy(new Error('socket hang up'));
    await expect(readAll(read)).rejects.toThrow('socket hang up');
  });
});
