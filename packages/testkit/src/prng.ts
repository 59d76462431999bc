import { createHash } from 'node:crypto';

/**
 * xoshiro128** (a xorshift-family generator) with a 128-bit state taken from a SHA-256 of
 * everything that identifies a file. Two files that differ in any option start at unrelated
 * points of a 2^128 cycle, so a run of one file's pixels does not turn up in another's.
 */
export class Xoshiro128 {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(identity: string) {
    const digest = createHash('sha256').update(identity).digest();
    this.#a = digest.readUInt32LE(0);
    this.#b = digest.readUInt32LE(4);
    this.#c = digest.readUInt32LE(8);
    this.#d = digest.readUInt32LE(12);
    // An all-zero state would stay zero forever.
    if ((this.#a | this.#b | this.#c | this.#d) === 0) this.#a = 1;
  }

  /** Next unsigned 32-bit value. */
  next(): number {
    const result = Math.imul(rotl(Math.imul(this.#b, 5), 7), 9) >>> 0;
    const t = this.#b << 9;
    this.#c ^= this.#a;
    this.#d ^= this.#b;
    this.#b ^= this.#c;
    this.#a ^= this.#d;
    this.#c ^= t;
    this.#d = rotl(this.#d, 11);
    return result;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** A smooth 0..1 bump along an axis (a Hann window), like the falloff of an exposed field. */
export function hannProfile(length: number): Float64Array {
  const profile = new Float64Array(length);
  const denominator = Math.max(1, length - 1);
  for (let i = 0; i < length; i++) profile[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / denominator);
  return profile;
}
