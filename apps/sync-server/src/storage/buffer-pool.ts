/** Where a store takes the buffers it reads into. */
export interface BufferSource {
  /** A buffer of exactly `size` bytes, holding whatever it held before. */
  take(size: number): Buffer;
}

/**
 * Recycled buffers for segment-sized reads. A download reads ~1 MiB chunks; allocating each one
 * anew made V8 run a full GC about once per download (external memory pressure). Only buffers
 * this pool lent come back, each once; at most `maxFree` are kept. They only ever hold
 * ciphertext, and one given back while still in use would fail authentication, not leak.
 */
export class BufferPool implements BufferSource {
  private readonly free = new Map<number, Buffer[]>();
  private readonly lent = new WeakSet<ArrayBufferLike>();
  private freeCount = 0;

  constructor(private readonly maxFree: number) {}

  take(size: number): Buffer {
    const reused = this.free.get(size)?.pop();
    if (reused) this.freeCount--;
    const buffer = reused ?? Buffer.allocUnsafeSlow(size);
    this.lent.add(buffer.buffer);
    return buffer;
  }

  /** Takes back a buffer from `take` (or a view of one) once nothing uses it; anything else is ignored. */
  give(view: Buffer): void {
    const memory = view.buffer;
    if (!this.lent.delete(memory) || this.freeCount >= this.maxFree) return;
    const whole = Buffer.from(memory, 0, memory.byteLength);
    const list = this.free.get(whole.length);
    if (list) list.push(whole);
    else this.free.set(whole.length, [whole]);
    this.freeCount++;
  }
}
