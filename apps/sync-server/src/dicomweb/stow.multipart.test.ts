import type { IncomingMessage } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { MalformedMultipart, stowParts } from './stow.multipart.ts';

const BOUNDARY = 'b0undary-xyz';

/** A request whose body arrives in the given pieces. */
function requestOf(
  pieces: Buffer[],
  contentType = `multipart/related; type="application/dicom"; boundary=${BOUNDARY}`,
) {
  const req = Readable.from(pieces, { objectMode: false }) as unknown as IncomingMessage;
  req.headers = { 'content-type': contentType };
  return req;
}

function body(
  parts: { type?: string; bytes: Buffer }[],
  opts: { preamble?: string; epilogue?: string; close?: boolean } = {},
) {
  const out: Buffer[] = [];
  if (opts.preamble) out.push(Buffer.from(`${opts.preamble}\r\n`));
  for (const p of parts)
    out.push(
      Buffer.from(`--${BOUNDARY}\r\n${p.type ? `Content-Type: ${p.type}\r\n` : ''}\r\n`),
      p.bytes,
      Buffer.from('\r\n'),
    );
  if (opts.close !== false) out.push(Buffer.from(`--${BOUNDARY}--\r\n${opts.epilogue ?? ''}`));
  return Buffer.concat(out);
}

/** Splits `b` into pieces of `size` bytes (1: every byte its own chunk). */
const pieces = (b: Buffer, size: number) => {
  const out: Buffer[] = [];
  for (let at = 0; at < b.length; at += size) out.push(b.subarray(at, at + size));
  return out;
};

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function readAll(req: IncomingMessage, headBytes = 1024) {
  const got: { type: string; head: Buffer; sha: string; length: number }[] = [];
  for await (const part of stowParts(req, { headBytes, maxParts: 10 })) {
    const chunks: Buffer[] = [];
    for await (const c of part.body) chunks.push(c as Buffer);
    const all = Buffer.concat(chunks);
    got.push({ type: part.mediaType, head: part.head, sha: sha(all), length: all.length });
  }
  return got;
}

describe('STOW-RS multipart/related parts', () => {
  const a = randomBytes(300_000);
  // Content with near-misses of the delimiter (the boundary without its CRLF, or cut short).
  const b = Buffer.concat([
    Buffer.from(`DICM--${BOUNDARY}\r\n--${BOUNDARY.slice(0, -1)}Q\r\n--${BOUNDARY.slice(0, 5)}`),
    randomBytes(5000),
  ]);
  const tiny = Buffer.from('DICM');

  it.each([
    ['one chunk', 1_000_000],
    ['64 KiB chunks', 64 * 1024],
    ['7-byte chunks', 7],
  ])('gives each part whole, head first, whatever the chunking (%s)', async (_name, size) => {
    const whole = body(
      [
        { type: 'application/dicom', bytes: a },
        { type: 'Application/DICOM', bytes: b },
        { type: 'image/png', bytes: tiny },
      ],
      { preamble: 'ignored preamble', epilogue: 'ignored epilogue' },
    );
    const got = await readAll(requestOf(pieces(whole, size)));
    expect(got.map((g) => [g.type, g.sha, g.length])).toEqual([
      ['application/dicom', sha(a), a.length],
      ['application/dicom', sha(b), b.length],
      ['image/png', sha(tiny), 4],
    ]);
    // The head is the part's first bytes, at least headBytes of them (or the whole part).
    expect(a.subarray(0, got[0]!.head.length).equals(got[0]!.head)).toBe(true);
    expect(got[0]!.head.length).toBeGreaterThanOrEqual(1024);
    expect(got[2]!.head.equals(tiny)).toBe(true);
  });

  it('lets a part be dropped unread and goes on with the next', async () => {
    const req = requestOf(
      pieces(
        body([
          { type: 'application/dicom', bytes: a },
          { type: 'application/dicom', bytes: b },
        ]),
        4096,
      ),
    );
    const seen: string[] = [];
    for await (const part of stowParts(req, { headBytes: 100, maxParts: 10 })) {
      if (seen.length === 0) {
        part.discard();
        seen.push('dropped');
        continue;
      }
      const chunks: Buffer[] = [];
      for await (const c of part.body) chunks.push(c as Buffer);
      seen.push(sha(Buffer.concat(chunks)));
    }
    expect(seen).toEqual(['dropped', sha(b)]);
  });

  it('refuses a body without its closing delimiter, with no boundary, with no part, a part without headers, or too many parts', async () => {
    // PS3.18 parts name their Content-Type; a part with no header at all is malformed framing.
    await expect(readAll(requestOf([body([{ bytes: tiny }])]))).rejects.toThrow(/malformed headers/);
    await expect(
      readAll(requestOf(pieces(body([{ type: 'application/dicom', bytes: a }], { close: false }), 8192))),
    ).rejects.toThrow(/closing boundary/);
    await expect(
      readAll(
        requestOf([body([{ type: 'application/dicom', bytes: tiny }])], 'multipart/related; type="application/dicom"'),
      ),
    ).rejects.toThrow(/names no boundary/);
    await expect(readAll(requestOf([Buffer.from('no multipart here at all')]))).rejects.toBeInstanceOf(
      MalformedMultipart,
    );
    await expect(readAll(requestOf([]))).rejects.toThrow(/closing boundary/);
    const many = body(Array.from({ length: 12 }, () => ({ type: 'application/dicom', bytes: tiny })));
    await expect(readAll(requestOf([many]))).rejects.toThrow(/instances per request/);
  });

  it('holds the client back while a part is not being read (memory stays bounded)', async () => {
    const big = randomBytes(8 * 1024 * 1024);
    const source = pieces(body([{ type: 'application/dicom', bytes: big }]), 64 * 1024);
    let pulled = 0;
    const req = Readable.from(
      (function* () {
        for (const p of source) {
          pulled += p.length;
          yield p;
        }
      })(),
    ) as unknown as IncomingMessage;
    req.headers = { 'content-type': `multipart/related; boundary=${BOUNDARY}` };
    const parts = stowParts(req, { headBytes: 1024, maxParts: 10 });
    const first = await parts.next();
    expect(first.done).toBe(false);
    await new Promise((r) => setTimeout(r, 100));
    // Not read yet: only a few buffers' worth has been taken from the client.
    expect(pulled).toBeLessThan(2 * 1024 * 1024);
    const chunks: Buffer[] = [];
    if (!first.done) for await (const c of first.value.body) chunks.push(c as Buffer);
    expect(sha(Buffer.concat(chunks))).toBe(sha(big));
    expect((await parts.next()).done).toBe(true);
  });
});
