/**
 * Byte helpers for the XRE1 code. WebCrypto only accepts ArrayBuffer-backed views, so buffers we
 * hand to it are typed `Uint8Array<ArrayBuffer>` and inputs of unknown backing are copied.
 */
export type Bytes = Uint8Array<ArrayBuffer>;

/** Where ciphertext comes from: a stream (object storage, fetch) or bytes already in memory. */
export type ByteSource = ReadableStream<Uint8Array> | Uint8Array;

export function concatBytes(a: Uint8Array, b: Uint8Array): Bytes {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

export function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** Undefined for text that is not base64; callers that need one spelling re-encode and compare. */
export function fromBase64(text: string): Bytes | undefined {
  let binary: string;
  try {
    binary = atob(text);
  } catch {
    return undefined;
  }
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}

/** Reads exact byte counts from a source, whatever chunk sizes a stream happens to deliver. */
export class ExactReader {
  #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  #chunk: Uint8Array;

  constructor(source: ByteSource) {
    if (source instanceof Uint8Array) {
      this.#chunk = source;
    } else {
      this.#chunk = new Uint8Array(0);
      this.#reader = source.getReader();
    }
  }

  /** Fills `target`; returns how many bytes it got, fewer than asked only if the source ended. */
  async readInto(target: Uint8Array): Promise<number> {
    let filled = 0;
    while (filled < target.length && (await this.#hasMore())) {
      const n = Math.min(target.length - filled, this.#chunk.length);
      target.set(this.#chunk.subarray(0, n), filled);
      this.#chunk = this.#chunk.subarray(n);
      filled += n;
    }
    return filled;
  }

  async atEnd(): Promise<boolean> {
    return !(await this.#hasMore());
  }

  /** Releases the underlying stream (e.g. an HTTP body) when we stop early. */
  async cancel(): Promise<void> {
    const reader = this.#reader;
    this.#reader = undefined;
    await reader?.cancel();
  }

  async #hasMore(): Promise<boolean> {
    while (this.#chunk.length === 0) {
      if (!this.#reader) return false;
      const { done, value } = await this.#reader.read();
      if (done) {
        this.#reader = undefined;
        return false;
      }
      this.#chunk = value;
    }
    return true;
  }
}

/** Reads a whole stream into one buffer (for small data and tests). */
export async function readAllBytes(stream: ReadableStream<Uint8Array>): Promise<Bytes> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    length += value.length;
  }
  const out = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/**
 * A pull-driven stream over an async generator (ReadableStream.from is missing in some browsers).
 * High-water mark 0: nothing is produced before the consumer asks for it.
 */
export function streamFromGenerator(generator: AsyncGenerator<Bytes, void, undefined>): ReadableStream<Bytes> {
  return new ReadableStream<Bytes>(
    {
      async pull(controller) {
        const next = await generator.next();
        if (next.done) controller.close();
        else controller.enqueue(next.value);
      },
      async cancel() {
        await generator.return(undefined);
      },
    },
    { highWaterMark: 0 },
  );
}
