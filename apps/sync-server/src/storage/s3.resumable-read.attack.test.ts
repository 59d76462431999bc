import { randomBytes, randomInt } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ResumableRead, type ReleasePolicy } from './s3.resumable-read.ts';

/** Attack on ResumableRead at exact offsets (the real-S3 path: test/attack-s3-resume.int.test.ts). */
const pressed: ReleasePolicy = { whenPressedMs: 1, idleMs: 1_000, pressed: () => true };
const object = randomBytes(256 * 1024);

/** A response for bytes [from, to] in chunks of random sizes; `end: false` never ends (the body's end not yet seen). */
function responseOf(from: number, to: number, opts: { end?: boolean; chunk?: number; maxChunk?: number } = {}) {
  const body = new Readable({ read() {} });
  for (let i = from; i <= to;) {
    const n = Math.min(opts.chunk ?? randomInt(1, opts.maxChunk ?? 40_000), to + 1 - i);
    body.push(object.subarray(i, i + n));
    i += n;
  }
  if (opts.end !== false) body.push(null);
  return body;
}

const released = (r: Readable) => new Promise((resolve) => r.once('released', resolve));
const readAll = async (r: Readable) => {
  const got: Buffer[] = [];
  for await (const c of r) got.push(c as Buffer);
  return Buffer.concat(got);
};

describe('ResumableRead under attack', () => {
  it('let go after its last byte was taken but before the response’s end was seen: ends cleanly, asks for nothing', async () => {
    const reopened: number[] = [];
    const read = new ResumableRead(
      {
        // One chunk: all taken in at once, past the stream's highWaterMark, and left unread.
        body: responseOf(0, 99_999, { end: false, chunk: 100_000 }),
        start: 0,
        end: 99_999,
        reopen: (from) => (reopened.push(from), Promise.reject(new Error('nothing to reopen'))),
      },
      pressed,
    );
    read.read(0);
    await released(read);
    expect((await readAll(read)).equals(object.subarray(0, 100_000))).toBe(true);
    expect(reopened).toEqual([]);
  });

  it('let go one byte short of the end: reopens for exactly that byte', async () => {
    const reopened: number[] = [];
    const read = new ResumableRead(
      {
        body: responseOf(5, 99_998, { end: false, chunk: 100_000 }),
        start: 5,
        end: 99_999,
        reopen: (from) => (reopened.push(from), Promise.resolve(responseOf(from, 99_999))),
      },
      pressed,
    );
    read.read(0);
    await released(read);
    expect((await readAll(read)).equals(object.subarray(5, 100_000))).toBe(true);
    expect(reopened).toEqual([99_999]);
  });

  it('paused and let go 40 times at random offsets, random chunking: the exact bytes', async () => {
    const [start, end] = [3, object.length - 2];
    let reopens = 0;
    const read = new ResumableRead(
      {
        // Small chunks: the 40 rounds of a few chunks each end near the object's end, each round let go.
        body: responseOf(start, end, { maxChunk: 8_000 }),
        start,
        end,
        reopen: (from) => (reopens++, Promise.resolve(responseOf(from, end, { maxChunk: 8_000 }))),
      },
      pressed,
    );
    const got: Buffer[] = [];
    let ended = false;
    read.once('end', () => (ended = true));
    for (let i = 0; i < 40 && !ended; i++) {
      // Take a few small reads (read() without a size would take all it holds: the object would be
      // read in a few rounds and let go only a few times), then leave it unread until it lets go.
      for (let k = randomInt(1, 4); k > 0; k--) {
        const c = read.read(randomInt(1, 2_000)) as Buffer | null;
        if (c) got.push(c);
        else await new Promise((r) => setImmediate(r));
      }
      await Promise.race([
        released(read),
        new Promise((r) => read.once('end', r)),
        // Only for a response whose every byte is already buffered (nothing left to let go): on a
        // loaded machine the 1 ms release timer must still come first.
        new Promise((r) => setTimeout(r, 200)),
      ]);
    }
    got.push(await readAll(read));
    expect(Buffer.concat(got).equals(object.subarray(start, end + 1))).toBe(true);
    expect(reopens).toBeGreaterThan(3);
  });

  it('destroyed at random moments (paused, let go, reopening): no error, every body destroyed (a reopen answered late too)', async () => {
    for (let i = 0; i < 30; i++) {
      const bodies: Readable[] = [];
      let answer: ((b: Readable) => void) | undefined;
      const read = new ResumableRead(
        {
          body: responseOf(0, object.length - 1),
          start: 0,
          end: object.length - 1,
          reopen: () =>
            new Promise<Readable>((resolve) => {
              answer = resolve;
            }),
        },
        pressed,
      );
      bodies.push((read as unknown as { source: { body: Readable } }).source.body);
      const errors: unknown[] = [];
      read.on('error', (e) => errors.push(e));
      read.read(0);
      if (i % 3 > 0) await released(read);
      if (i % 3 === 2) {
        read.read(); // takes what it holds; wants more: reopening
        while (read.read()) {
          /* drain */
        }
      }
      read.destroy();
      // An answer arriving after: destroyed at once.
      if (answer) {
        const late = responseOf(0, 10);
        bodies.push(late);
        answer(late);
      }
      expect(answer !== undefined).toBe(i % 3 === 2);
      await new Promise((r) => setImmediate(r));
      expect(errors).toEqual([]);
      expect(bodies.every((b) => b.destroyed)).toBe(true);
    }
  });
});
