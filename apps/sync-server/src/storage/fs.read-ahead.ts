import { close, read } from 'node:fs';
import { Readable } from 'node:stream';
import type { BufferSource } from './buffer-pool.ts';
import type { ByteRange } from './object-store.ts';

/**
 * Bytes [range.start, range.end] of an open file as `chunkSize` chunks, with up to `readAhead`
 * positional reads in flight. fs.createReadStream keeps one read in flight and starts the next
 * only after its consumer has handled the last chunk, so the disk waits for the consumer (the
 * decryption) and the other way round; here the next reads run on the thread pool meanwhile.
 * Still bounded: at most `readAhead` chunks in flight plus what the stream buffers.
 * Owns `fd` and closes it when it ends or is destroyed (after the reads in flight settle).
 */
export class ReadAheadStream extends Readable {
  private next: number;
  private readonly reads: Promise<Buffer>[] = [];
  private waiting = false;

  constructor(
    private readonly fd: number,
    private readonly range: ByteRange,
    private readonly chunkSize: number,
    private readonly readAhead: number,
    private readonly buffers: BufferSource = { take: (size) => Buffer.allocUnsafeSlow(size) },
  ) {
    super({ highWaterMark: 1 }); // buffer one chunk at most; the reads in flight are the read-ahead
    this.next = range.start;
  }

  private fill(): void {
    while (this.reads.length < this.readAhead && this.next <= this.range.end) {
      const length = Math.min(this.chunkSize, this.range.end + 1 - this.next);
      const reading = readAt(this.fd, this.buffers.take(this.chunkSize), length, this.next);
      reading.catch(() => undefined); // a failed read is reported when it is next in line (or dropped on destroy)
      this.reads.push(reading);
      this.next += length;
    }
  }

  override _read(): void {
    this.fill();
    const head = this.reads[0];
    if (!head) return void this.push(null);
    if (this.waiting) return;
    this.waiting = true;
    head.then(
      (chunk) => {
        this.waiting = false;
        if (this.destroyed) return;
        this.reads.shift();
        // A short read means the file ended early; the consumer sees the missing bytes.
        if (chunk.length === 0) return void this.push(null);
        if (this.push(chunk)) this._read();
        else this.fill();
      },
      (err: Error) => this.destroy(err),
    );
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    // The fd may only be closed once no read uses it: a reused fd number would be read otherwise.
    void Promise.allSettled(this.reads).then(() => close(this.fd, () => done(err)));
  }
}

/** Reads `length` bytes at `position` into `buffer` (fewer only at the end of the file). */
function readAt(fd: number, buffer: Buffer, length: number, position: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const step = (filled: number): void =>
      read(fd, buffer, filled, length - filled, position + filled, (err, n) => {
        if (err) return reject(err);
        const total = filled + n;
        if (n === 0 || total === length) return resolve(total === buffer.length ? buffer : buffer.subarray(0, total));
        step(filled + n);
      });
    step(0);
  });
}
