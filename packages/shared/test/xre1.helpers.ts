/** Stream and byte helpers for the XRE1 tests. */
import { expect } from 'vitest';
import { Xre1Error, type Xre1ErrorCode } from '../src/crypto/index.ts';

/** Deterministic PRNG (mulberry32) so random chunking is reproducible. */
export function prng(seed: number): (below: number) => number {
  let a = seed;
  return (below) => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * below);
  };
}

/** Splits bytes into chunks of random size (including empty ones). */
export function randomChunks(bytes: Uint8Array, random: (below: number) => number, max: number) {
  const chunks: Uint8Array[] = [];
  for (let offset = 0; offset < bytes.length;) {
    const n = random(max + 1);
    chunks.push(bytes.subarray(offset, offset + n));
    offset += n;
  }
  return chunks;
}

export function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
}

/** Drains a stream, keeping what it emitted before it failed. */
export async function drain(stream: ReadableStream<Uint8Array>) {
  const emitted: Uint8Array[] = [];
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { emitted: concat(emitted), error: undefined };
      emitted.push(value);
    }
  } catch (error) {
    return { emitted: concat(emitted), error };
  }
}

export function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

export function join(...parts: Uint8Array[]): Uint8Array {
  return concat(parts);
}

export async function expectCode(promise: Promise<unknown>, code: Xre1ErrorCode) {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(Xre1Error);
  expect(error).toMatchObject({ code });
}

/** Byte equality with a readable failure; toEqual walks megabytes element by element. */
export function expectSameBytes(actual: Uint8Array, expected: Uint8Array): void {
  expect(actual.length).toBe(expected.length);
  const at = actual.findIndex((byte, i) => byte !== expected[i]);
  expect(at, `first differing byte at ${at}`).toBe(-1);
}

/** A copy of `bytes` with one bit flipped at `index`. */
export function flipBit(bytes: Uint8Array, index: number): Uint8Array {
  const copy = bytes.slice();
  copy[index] = (copy[index] ?? 0) ^ 0x01;
  return copy;
}
