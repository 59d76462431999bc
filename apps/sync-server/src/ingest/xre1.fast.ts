import { createDecipheriv } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  parseHeader,
  plaintextLength,
  segmentCipherOffset,
  segmentCount,
  TAG_LENGTH,
  Xre1Error,
  type ParsedHeader,
} from '@xray/shared';
import type { ByteRange, ObjectStore } from '../storage/index.ts';

/** The longest header an XRE1 object may have (preamble + JSON limit in the format). */
const MAX_HEADER_TOTAL = 8 + 1024;

/**
 * The download path's XRE1 decryption on node:crypto. Same format and checks as the shared
 * WebCrypto implementation (which the edge and the ingest path use), but without Web Streams
 * and a promise per segment: profiles showed those, not AES, capping download throughput.
 * Plaintext of a segment is released only after its tag verifies.
 */
export async function readStoredHeader(store: ObjectStore, key: string, cipherSize: number): Promise<ParsedHeader> {
  const chunks: Buffer[] = [];
  for await (const c of await store.get(key, { start: 0, end: Math.min(cipherSize, MAX_HEADER_TOTAL) - 1 })) {
    chunks.push(Buffer.from(c));
  }
  return parseHeader(new Uint8Array(Buffer.concat(chunks)));
}

/** Plaintext bytes [range.start, range.end] of a stored XRE1 object, decrypting only the segments they touch. */
export function decryptStoredRangeFast(
  store: ObjectStore,
  key: string,
  rawKey: Uint8Array,
  cipherSize: number,
  parsed: ParsedHeader,
  range: ByteRange | undefined,
): Readable {
  const { header, headerTotalLength } = parsed;
  const seg = header.segmentSize;
  const plainSize = plaintextLength(cipherSize, headerTotalLength, seg);
  const lastIndex = segmentCount(plainSize, seg) - 1;
  const start = range?.start ?? 0;
  const end = range?.end ?? plainSize - 1; // -1 for an empty file: only its one empty segment is checked
  const first = Math.floor(start / seg);
  const last = plainSize === 0 ? 0 : Math.floor(end / seg);
  const cipherStart = segmentCipherOffset(first, headerTotalLength, seg);
  const cipherEnd = Math.min(segmentCipherOffset(last + 1, headerTotalLength, seg), cipherSize) - 1;
  const aad = Buffer.from(header.json);

  const open = (index: number, sealed: Buffer): Buffer => {
    const nonce = Buffer.alloc(12);
    Buffer.from(header.noncePrefix).copy(nonce);
    nonce.writeUInt32BE(index, 7);
    nonce[11] = index === lastIndex ? 1 : 0;
    const d = createDecipheriv('aes-256-gcm', rawKey, nonce, { authTagLength: TAG_LENGTH });
    d.setAAD(aad);
    d.setAuthTag(sealed.subarray(sealed.length - TAG_LENGTH));
    try {
      return Buffer.concat([d.update(sealed.subarray(0, sealed.length - TAG_LENGTH)), d.final()]);
    } catch (cause) {
      throw new Xre1Error('auth_failed', `segment ${index} does not authenticate`, { cause });
    }
  };
  const sealedLength = (index: number) =>
    index === lastIndex ? cipherSize - segmentCipherOffset(index, headerTotalLength, seg) : seg + TAG_LENGTH;

  async function* plaintext(): AsyncGenerator<Buffer> {
    let index = first;
    let pending: Buffer[] = [];
    let pendingLength = 0;
    for await (const chunk of await store.get(key, { start: cipherStart, end: cipherEnd })) {
      pending.push(Buffer.from(chunk));
      pendingLength += chunk.length;
      while (index <= last && pendingLength >= sealedLength(index)) {
        const all = pending.length === 1 ? pending[0]! : Buffer.concat(pending);
        const need = sealedLength(index);
        const plain = open(index, all.subarray(0, need));
        const rest = all.subarray(need);
        pending = rest.length ? [rest] : [];
        pendingLength = rest.length;
        const from = index === first ? start - first * seg : 0;
        const to = index === last ? end - index * seg + 1 : plain.length;
        if (to > from) yield plain.subarray(from, to);
        index++;
      }
    }
    if (index <= last || pendingLength > 0) throw new Xre1Error('truncated', 'the stored object ends early');
  }
  return Readable.from(plaintext(), { objectMode: false });
}
