import type { IncomingMessage } from 'node:http';
import { PassThrough, Readable } from 'node:stream';
import * as Multipasta from 'multipasta';
import { DomainError } from '../errors.ts';

/**
 * The parts of a STOW-RS body (`multipart/related`, RFC 2387), one at a time and streamed:
 * multipasta (a streaming parser for any multipart type; busboy takes only form-data) splits the
 * request, each part's bytes flow through a small buffer, and the request is paused while the
 * consumer is behind, so memory holds at most a header prefix and a few chunks per request
 * whatever the size of the instances. Chunked request bodies are what Node hands over anyway.
 */

export interface StowPart {
  /** The part's media type (`application/dicom`), lower case; `''` when it declares none. */
  mediaType: string;
  /** The first bytes of the part (at least `headBytes` of them, unless the part is shorter). */
  head: Buffer;
  /** The whole part, the head included, as a stream; read it once. */
  body: Readable;
  /** Reads and drops what is left of the part (after a refusal, or when its bytes are only hashed). */
  discard(): void;
}

/** The multipart framing itself is broken: the whole request is a 400, not one failed instance. */
export class MalformedMultipart extends DomainError {
  constructor(message: string) {
    super('bad_request', `The multipart/related body cannot be read: ${message}`);
  }
}

const PART_BUFFER_BYTES = 256 * 1024;

function describe(err: Multipasta.MultipartError): string {
  switch (err._tag) {
    case 'InvalidBoundary':
      return 'its Content-Type names no boundary.';
    case 'BadHeaders':
      return 'a part has malformed headers.';
    case 'InvalidDisposition':
      return 'a part has a malformed Content-Disposition.';
    case 'EndNotReached':
      return 'it ends before its closing boundary.';
    case 'ReachedLimit':
      return `it exceeds the limit on ${err.limit === 'MaxParts' ? 'instances per request' : 'part size'}.`;
  }
}

/** Reads from `body` until `n` bytes or its end, and gives them back as one buffer (never past the end). */
async function readHead(body: PassThrough, n: number): Promise<{ head: Buffer; ended: boolean }> {
  const chunks: Buffer[] = [];
  let length = 0;
  while (length < n) {
    const chunk = body.read() as Buffer | null;
    if (chunk !== null) {
      chunks.push(chunk);
      length += chunk.length;
      continue;
    }
    const ended = await new Promise<boolean>((resolve, reject) => {
      const done = (value: boolean | Error) => {
        body.off('readable', onReadable).off('end', onEnd).off('error', onError).off('close', onEnd);
        if (value instanceof Error) reject(value);
        else resolve(value);
      };
      const onReadable = () => done(false);
      const onEnd = () => done(true);
      const onError = (err: Error) => done(err);
      body.once('readable', onReadable).once('end', onEnd).once('error', onError).once('close', onEnd);
    });
    if (ended) return { head: Buffer.concat(chunks), ended: true };
  }
  return { head: Buffer.concat(chunks), ended: false };
}

/**
 * The parts of the request, in order. Throws MalformedMultipart (400) when the framing breaks
 * (also from a part's body, which is destroyed with it), `client_closed` when the client goes.
 * A part's body must be read or discarded before the next part is asked for.
 */
export async function* stowParts(
  req: IncomingMessage,
  opts: {
    headBytes: number;
    maxParts: number;
    /** A head that needs more (a header not ended) is read on to this many bytes (or the part's end). */
    readsOn?: { upTo: number; needsMore: (head: Buffer) => boolean };
  },
): AsyncGenerator<StowPart, void, undefined> {
  const queue: { mediaType: string; body: PassThrough }[] = [];
  let current: PassThrough | undefined;
  let failure: DomainError | undefined;
  let done = false;
  let ended = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const fail = (err: DomainError) => {
    failure ??= err;
    current?.destroy(failure);
    for (const q of queue) q.body.destroy(failure);
    notify();
  };

  const parser = Multipasta.make({
    headers: { 'content-type': req.headers['content-type'] ?? '' },
    // Every part is an instance (multipart/related parts carry no form-data disposition).
    isFile: () => true,
    maxParts: opts.maxParts,
    onFile(info) {
      if (failure) return () => undefined;
      const body = new PassThrough({ highWaterMark: PART_BUFFER_BYTES });
      // A part dropped with the request's failure may have no reader: its error is the request's.
      body.on('error', () => undefined);
      current = body;
      queue.push({ mediaType: info.contentType.toLowerCase(), body });
      notify();
      let held = false;
      return (chunk) => {
        if (body.destroyed) return; // refused or given up: the rest of this part is dropped
        if (chunk === null) {
          body.end();
          return;
        }
        if (!body.write(chunk) && !held) {
          // Behind: hold the client until this part's reader catches up (or drops the part).
          held = true;
          req.pause();
          const go = () => {
            body.off('drain', go).off('close', go);
            held = false;
            req.resume();
          };
          body.on('drain', go).on('close', go);
        }
      };
    },
    // Never called: every part is a file (isFile).
    onField: () => undefined,
    // After the closing delimiter comes the epilogue, which is not parsed (RFC 2046 5.1.1).
    onError: (err) => (done ? undefined : fail(new MalformedMultipart(describe(err)))),
    onDone() {
      done = true;
      notify();
    },
  });

  const onData = (chunk: Buffer) => {
    if (!failure && !done) parser.write(chunk);
  };
  const onEnd = () => {
    ended = true;
    if (!failure && !done) parser.end();
    notify();
  };
  const onAborted = () => {
    if (!ended && !done)
      fail(new DomainError('client_closed', 'The client closed the connection before the body was complete.'));
  };
  req.on('data', onData).on('end', onEnd).on('error', onAborted).on('close', onAborted);

  try {
    for (;;) {
      if (failure) throw failure;
      const next = queue.shift();
      if (next) {
        let { head, ended: short } = await readHead(next.body, opts.headBytes);
        if (!short && opts.readsOn && head.length < opts.readsOn.upTo && opts.readsOn.needsMore(head)) {
          const more = await readHead(next.body, opts.readsOn.upTo - head.length);
          head = Buffer.concat([head, more.head]);
          short = more.ended;
        }
        if (failure) throw failure;
        let body: Readable = next.body;
        if (short) body = Readable.from([head]);
        else if (head.length) next.body.unshift(head);
        const discard = () => {
          if (body !== next.body) body.destroy();
          next.body.destroy();
        };
        yield { mediaType: next.mediaType, head, body, discard };
        continue;
      }
      if (done) return;
      if (ended) throw new MalformedMultipart('it ends before its closing boundary.');
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    req.off('data', onData).off('end', onEnd).off('error', onAborted).off('close', onAborted);
    for (const q of queue) q.body.destroy();
    current?.destroy();
    // Whatever follows the closing boundary (or a refused request's rest) is read and dropped.
    if (!ended) req.resume();
  }
}
