/**
 * XRE1 on node:crypto: the data key as Node holds it, one segment sealed (POST /xrays) or opened,
 * and the one segment assembler that both the arrival verifier and the download opener cut
 * ciphertext with.
 * The format itself (header, sizes, the reference implementation the edge runs) is
 * @xray/shared's; this is the server's synchronous fast path over it. Profiles showed Web
 * Streams and a promise per segment, not AES, capping throughput on the server.
 */
import { createCipheriv, createDecipheriv, createSecretKey, KeyObject } from 'node:crypto';
import { NONCE_PREFIX_LENGTH, TAG_LENGTH, Xre1Error, type Xre1Header } from '@xray/shared';
import type { BufferPool } from '../storage/index.ts';

const MAX_SEGMENT_INDEX = 0xffff_ffff;

/** The raw bytes of an (extractable) data key. The caller zeroes them (`fill(0)`) once done. */
export async function rawDekBytes(dek: CryptoKey): Promise<Buffer> {
  return Buffer.from(await crypto.subtle.exportKey('raw', dek));
}

/** A data key as node:crypto can use it: raw bytes, a WebCrypto key (even non-extractable), or a KeyObject. */
export type DekMaterial = Uint8Array | CryptoKey | KeyObject;

/**
 * The key as a KeyObject: held by Node outside the JavaScript heap (the raw bytes given are
 * copied, and the caller can zero them at once); a CryptoKey converts without its bytes ever
 * reaching JavaScript.
 */
export const dekKeyObject = (dek: DekMaterial): KeyObject =>
  dek instanceof KeyObject ? dek : dek instanceof Uint8Array ? createSecretKey(dek) : KeyObject.from(dek);

/** What opening a segment needs of its object's header. */
export interface SegmentKey {
  key: KeyObject;
  /** The header JSON: every segment's additional data. */
  aad: Buffer;
  noncePrefix: Buffer;
}

/** The key for opening the segments of an object with this header. */
export const segmentKeyOf = (dek: DekMaterial, header: Xre1Header): SegmentKey => ({
  key: dekKeyObject(dek),
  aad: Buffer.from(header.json),
  noncePrefix: Buffer.from(header.noncePrefix),
});

function tryOpen(k: SegmentKey, index: number, last: boolean, sealed: Uint8Array): Buffer | undefined {
  const decipher = createDecipheriv('aes-256-gcm', k.key, segmentNonce(k, index, last), { authTagLength: TAG_LENGTH });
  decipher.setAAD(k.aad);
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_LENGTH));
  const plain = decipher.update(sealed.subarray(0, sealed.length - TAG_LENGTH));
  try {
    decipher.final();
    return plain;
  } catch {
    return undefined; // unauthenticated until final() returns: dropped, never released
  }
}

function segmentNonce(k: SegmentKey, index: number, last: boolean): Buffer {
  if (index > MAX_SEGMENT_INDEX) {
    throw new Xre1Error('bad_length', 'more segments than the 32-bit segment counter allows');
  }
  const nonce = Buffer.alloc(NONCE_PREFIX_LENGTH + 5);
  k.noncePrefix.copy(nonce);
  nonce.writeUInt32BE(index, NONCE_PREFIX_LENGTH);
  nonce[NONCE_PREFIX_LENGTH + 4] = last ? 1 : 0;
  return nonce;
}

/** Seals plaintext segment `index`: its ciphertext, then its tag (the same nonce and AAD as opening). */
export function sealSegment(k: SegmentKey, index: number, last: boolean, plaintext: Uint8Array): [Buffer, Buffer] {
  const cipher = createCipheriv('aes-256-gcm', k.key, segmentNonce(k, index, last), { authTagLength: TAG_LENGTH });
  cipher.setAAD(k.aad);
  const sealed = cipher.update(plaintext);
  cipher.final();
  return [sealed, cipher.getAuthTag()];
}

/**
 * Opens sealed segment `index` (nonce = prefix ‖ u32be(index) ‖ last flag; AAD = the header JSON)
 * or throws. Only when it fails do we try the opposite last flag, to name the failure as the
 * shared openSegment does: truncated (the real end was cut off) or trailing_data.
 */
export function openSegment(k: SegmentKey, index: number, last: boolean, sealed: Uint8Array): Buffer {
  if (index > MAX_SEGMENT_INDEX) {
    throw new Xre1Error('bad_length', 'more segments than the 32-bit segment counter allows');
  }
  const plain = tryOpen(k, index, last, sealed);
  if (plain) return plain;
  const opensWithOtherFlag = tryOpen(k, index, !last, sealed) !== undefined;
  if (opensWithOtherFlag && last) {
    throw new Xre1Error('truncated', `the object ends after segment ${index}, which is not its last`);
  }
  if (opensWithOtherFlag) throw new Xre1Error('trailing_data', `data follows segment ${index}, which is the last`);
  throw new Xre1Error('auth_failed', `segment ${index} failed authentication`);
}

/** What a reader knows of an object's end: a stored object's length tells it; an upload's does not. */
export interface KnownLayout {
  /** The object's last segment (its nonce carries the last flag) and its sealed length. */
  lastIndex: number;
  lastSealedLength: number;
  /** The last segment asked for (a Range may stop before lastIndex): more bytes are an error. */
  until: number;
}

/**
 * Cuts ciphertext, arriving in chunks of any size, into sealed segments and hands each to
 * `open` with its index and whether it is the object's last. A segment lying whole in a chunk is
 * handed over in place (no copy); one spanning chunks is copied once into a buffer: from `pool`
 * and given back after each segment, or (no pool) one of its own, kept.
 *
 * With a known layout every segment's length is known up front. Without one (an upload as it
 * arrives), a full segment is handed over only once a byte after it arrives (it is not the
 * last) or at end(), so a segment ending exactly where a chunk ends is copied: the caller may
 * reuse its chunk once push returns.
 */
export class SegmentAssembler {
  readonly #sealedSize: number;
  #index: number;
  #held: Buffer | undefined;
  #filled = 0;

  constructor(
    segmentSize: number,
    private readonly open: (sealed: Uint8Array, index: number, last: boolean) => void,
    private readonly known?: KnownLayout & { first: number; pool: BufferPool },
  ) {
    this.#sealedSize = segmentSize + TAG_LENGTH;
    this.#index = known?.first ?? 0;
  }

  /** Memory held between chunks. */
  get retainedBytes(): number {
    return this.#held?.length ?? 0;
  }

  push(chunk: Uint8Array): void {
    const { known } = this;
    for (let at = 0; at < chunk.length;) {
      if (!known && this.#filled === this.#sealedSize) this.#release(false); // a byte follows it
      const need = known ? this.#knownLength(known) : this.#sealedSize;
      const rest = chunk.length - at;
      if (this.#filled === 0 && (known ? rest >= need : rest > need)) {
        this.#emit(chunk.subarray(at, at + need), known?.lastIndex === this.#index);
        at += need;
        continue;
      }
      // Always a full-size buffer (a view of it for a shorter last segment): one size to recycle.
      this.#held ??= known ? known.pool.take(this.#sealedSize) : Buffer.allocUnsafe(this.#sealedSize);
      const n = Math.min(need - this.#filled, rest);
      this.#held.set(chunk.subarray(at, at + n), this.#filled);
      this.#filled += n;
      at += n;
      if (known && this.#filled === need) this.#release(known.lastIndex === this.#index);
    }
  }

  /** The ciphertext is complete: opens what is held as the last segment, or throws if it ends early. */
  end(): void {
    if (this.known) {
      if (this.#index <= this.known.until) throw new Xre1Error('truncated', 'the stored object ends early');
      return;
    }
    if (this.#filled < TAG_LENGTH) throw new Xre1Error('truncated', 'the object ends before its last segment');
    this.#release(true);
    this.#held = undefined;
  }

  #knownLength(known: KnownLayout): number {
    if (this.#index > known.until) throw new Xre1Error('bad_length', 'more bytes than were asked for');
    return this.#index === known.lastIndex ? known.lastSealedLength : this.#sealedSize;
  }

  #emit(sealed: Uint8Array, last: boolean): void {
    this.open(sealed, this.#index++, last);
  }

  #release(last: boolean): void {
    const held = this.#held!;
    const sealed = held.subarray(0, this.#filled);
    this.#filled = 0;
    if (this.known) this.#held = undefined; // back to the pool once opened
    try {
      this.#emit(sealed, last);
    } finally {
      this.known?.pool.give(held);
    }
  }
}
