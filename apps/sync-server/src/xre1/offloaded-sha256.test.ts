// SHA-256 on the worker thread: the same digest as node:crypto on the main thread, whatever the
// updates' sizes; the caller waits once MAX_IN_FLIGHT updates are out; the caller's buffer may be
// reused at once; a hash that is dropped or whose worker dies does not hang anyone.
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { OffloadedSha256 } from './offloaded-sha256.ts';

const sha256 = (...parts: Uint8Array[]): string => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
};

describe('OffloadedSha256', () => {
  it('digests what node:crypto digests: empty, one byte, segments of every size, several hashes interleaved', async () => {
    expect(await new OffloadedSha256().digest()).toBe(sha256());
    const one = new OffloadedSha256();
    await one.update(Buffer.from([7]));
    expect(await one.digest()).toBe(sha256(Buffer.from([7])));

    const parts = [1 << 20, 1, 65_536, (1 << 20) + 17, 3, 0, 2 << 20].map((n) => randomBytes(n));
    const a = new OffloadedSha256();
    const b = new OffloadedSha256();
    for (const p of parts) {
      await a.update(p);
      await b.update(p.subarray(0, Math.floor(p.length / 2)));
    }
    const [da, db] = await Promise.all([a.digest(), b.digest()]);
    expect(da).toBe(sha256(...parts));
    expect(db).toBe(sha256(...parts.map((p) => p.subarray(0, Math.floor(p.length / 2)))));
  });

  it('copies what it is given: the caller may overwrite its buffer at once', async () => {
    const buf = Buffer.alloc(1 << 20, 1);
    const expected = sha256(Buffer.alloc(1 << 20, 1), Buffer.alloc(1 << 20, 2));
    const h = new OffloadedSha256();
    await h.update(buf);
    buf.fill(2); // reused for the next segment before the worker hashed the first
    await h.update(buf);
    buf.fill(3);
    expect(await h.digest()).toBe(expected);
  });

  it('makes the caller wait once four updates are out, and lets it go on as the worker catches up', async () => {
    const h = new OffloadedSha256();
    const seg = randomBytes(1 << 20);
    const waits = [0, 1, 2, 3, 4, 5].map(() => h.update(seg));
    expect(waits.slice(0, 3)).toEqual([undefined, undefined, undefined]);
    expect(waits[3]).toBeInstanceOf(Promise);
    await Promise.all(waits);
    expect(await h.digest()).toBe(sha256(seg, seg, seg, seg, seg, seg));
  });

  it('a dropped hash is forgotten (no digest owed), and updates after the digest are refused', async () => {
    const dropped = new OffloadedSha256();
    await dropped.update(randomBytes(1000));
    dropped.drop();
    dropped.drop();
    const done = new OffloadedSha256();
    await done.update(Buffer.from('x'));
    expect(await done.digest()).toBe(sha256(Buffer.from('x')));
    expect(() => done.update(Buffer.from('y'))).toThrow(/after digest/);
  });
});
