import { describe, expect, it } from 'vitest';
import { BufferPool } from './buffer-pool.ts';

describe('BufferPool', () => {
  it('recycles only what it lent, each buffer once, and keeps at most maxFree', () => {
    const pool = new BufferPool(1);
    const a = pool.take(16);
    const b = pool.take(16);
    pool.give(Buffer.alloc(16)); // not lent by this pool: ignored
    pool.give(a.subarray(0, 4)); // a view gives back the whole buffer
    pool.give(a); // already given back: ignored
    pool.give(b); // over maxFree: dropped
    const c = pool.take(16);
    expect(c.buffer).toBe(a.buffer);
    expect(c.length).toBe(16);
    expect(pool.take(16).buffer).not.toBe(a.buffer);
    expect(pool.take(8).length).toBe(8);
  });
});
