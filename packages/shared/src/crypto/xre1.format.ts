/**
 * XRE1: "XRE1" ‖ u32be(H) ‖ header JSON (H bytes) ‖ segments.
 * Segment i = AES-256-GCM(plaintext[i*seg, (i+1)*seg)) with nonce = prefix(7) ‖ u32be(i) ‖ lastFlag,
 * AAD = header JSON, 16-byte tag appended. The index stops reordering, the last flag stops
 * truncation and appending, the AAD binds every segment to this header (STREAM construction).
 */
import { type Bytes, concatBytes, fromBase64, toBase64 } from './bytes.ts';
import { Xre1Error } from './xre1.errors.ts';

export const DEFAULT_SEGMENT_SIZE = 1024 * 1024;
/** Bounds what a header may ask a reader to buffer (one segment) and keep per-segment cost sane. */
export const MIN_SEGMENT_SIZE = 16;
export const MAX_SEGMENT_SIZE = 16 * 1024 * 1024;
export const TAG_LENGTH = 16;
export const NONCE_PREFIX_LENGTH = 7;

const MAGIC = new TextEncoder().encode('XRE1');
/** Magic plus the u32 header length. */
export const PREAMBLE_LENGTH = 8;
/** A canonical v1 header is about 42 bytes; anything far larger is not XRE1. */
const MAX_HEADER_JSON_LENGTH = 1024;
/** The longest header (preamble and JSON) an XRE1 object may have. */
export const MAX_HEADER_LENGTH = PREAMBLE_LENGTH + MAX_HEADER_JSON_LENGTH;
const MAX_SEGMENT_INDEX = 0xffff_ffff;

export interface Xre1Header {
  readonly version: 1;
  readonly segmentSize: number;
  readonly noncePrefix: Bytes;
  /** The exact header JSON bytes, authenticated as every segment's AAD. */
  readonly json: Bytes;
}

export interface ParsedHeader {
  readonly header: Xre1Header;
  /** Where segment 0 starts: 8 + H. */
  readonly headerTotalLength: number;
}

export function createHeader(segmentSize: number, noncePrefix: Uint8Array): Xre1Header {
  if (!isValidSegmentSize(segmentSize)) {
    throw new RangeError(`segment size must be an integer in ${MIN_SEGMENT_SIZE}..${MAX_SEGMENT_SIZE}`);
  }
  if (noncePrefix.length !== NONCE_PREFIX_LENGTH) {
    throw new RangeError(`nonce prefix must be ${NONCE_PREFIX_LENGTH} bytes`);
  }
  // Key order is part of the format: there is exactly one valid spelling of each header.
  const text = JSON.stringify({ v: 1, seg: segmentSize, np: toBase64(noncePrefix) });
  return {
    version: 1,
    segmentSize,
    noncePrefix: new Uint8Array(noncePrefix),
    json: new TextEncoder().encode(text),
  };
}

export function randomNoncePrefix(): Bytes {
  return crypto.getRandomValues(new Uint8Array(NONCE_PREFIX_LENGTH));
}

/** Magic, length and JSON: the bytes that precede segment 0. */
export function serializeHeader(header: Xre1Header): Bytes {
  const preamble = new Uint8Array(PREAMBLE_LENGTH);
  preamble.set(MAGIC);
  new DataView(preamble.buffer).setUint32(4, header.json.length);
  return concatBytes(preamble, header.json);
}

/**
 * Checks the magic in the first 8 bytes and returns the header total length (8 + H), so a reader
 * knows how many bytes to fetch before it can call parseHeader.
 */
export function headerTotalLengthOf(preamble: Uint8Array): number {
  if (preamble.length < PREAMBLE_LENGTH) {
    throw new Xre1Error('truncated', 'the object ends inside the XRE1 preamble');
  }
  if (!MAGIC.every((byte, i) => preamble[i] === byte)) {
    throw new Xre1Error('bad_magic', 'not an XRE1 object');
  }
  const jsonLength = new DataView(preamble.buffer, preamble.byteOffset, 8).getUint32(4);
  if (jsonLength === 0 || jsonLength > MAX_HEADER_JSON_LENGTH) {
    throw new Xre1Error('bad_header', `header length ${jsonLength} is out of range`);
  }
  return PREAMBLE_LENGTH + jsonLength;
}

/** Parses the header at the start of `bytes` (which may continue with segments). */
export function parseHeader(bytes: Uint8Array): ParsedHeader {
  const headerTotalLength = headerTotalLengthOf(bytes);
  if (bytes.length < headerTotalLength) {
    throw new Xre1Error('truncated', 'the object ends inside the XRE1 header');
  }
  const json = bytes.slice(PREAMBLE_LENGTH, headerTotalLength);
  const fields = decodeHeaderJson(json);
  const noncePrefix = fields && fromBase64(fields.np);
  if (!fields || fields.v !== 1 || !isValidSegmentSize(fields.seg) || !noncePrefix) {
    throw new Xre1Error('bad_header', 'the XRE1 header is not a valid version 1 header');
  }
  if (noncePrefix.length !== NONCE_PREFIX_LENGTH) {
    throw new Xre1Error('bad_header', 'the nonce prefix is not 7 bytes');
  }
  const header = createHeader(fields.seg, noncePrefix);
  // Only the canonical spelling is accepted, so no two headers parse to the same parameters.
  if (!header.json.every((byte, i) => json[i] === byte) || header.json.length !== json.length) {
    throw new Xre1Error('bad_header', 'the XRE1 header is not in canonical form');
  }
  return { header, headerTotalLength };
}

function decodeHeaderJson(json: Uint8Array): { v: unknown; seg: number; np: string } | undefined {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json));
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  if (!('v' in value && 'seg' in value && 'np' in value)) return undefined;
  const { v, seg, np } = value;
  if (typeof seg !== 'number' || typeof np !== 'string') return undefined;
  return { v, seg, np };
}

function isValidSegmentSize(size: number): boolean {
  return Number.isInteger(size) && size >= MIN_SEGMENT_SIZE && size <= MAX_SEGMENT_SIZE;
}

// ---------------------------------------------------------------------------------------------
// Size arithmetic. headerTotalLength is always 8 + H, i.e. the offset of segment 0.

/** Number of segments for a plaintext length: an empty file still has one (empty, last) segment. */
export function segmentCount(plaintextLength: number, segmentSize: number): number {
  assertLength(plaintextLength, 'plaintext length');
  return plaintextLength === 0 ? 1 : Math.ceil(plaintextLength / segmentSize);
}

export function ciphertextLength(plaintextLength: number, headerTotalLength: number, segmentSize: number): number {
  assertLength(headerTotalLength, 'header length');
  return headerTotalLength + plaintextLength + segmentCount(plaintextLength, segmentSize) * TAG_LENGTH;
}

/** Inverse of ciphertextLength; throws `bad_length` for sizes no XRE1 object can have. */
export function plaintextLength(ciphertextLength: number, headerTotalLength: number, segmentSize: number): number {
  assertLength(ciphertextLength, 'ciphertext length');
  assertLength(headerTotalLength, 'header length');
  const body = ciphertextLength - headerTotalLength;
  const fullSegments = Math.floor(body / (segmentSize + TAG_LENGTH));
  const rest = body % (segmentSize + TAG_LENGTH);
  // The last segment holds 1..seg plaintext bytes, or 0 only when it is the only segment.
  const possible = body >= TAG_LENGTH && (rest === 0 || rest > TAG_LENGTH || fullSegments === 0);
  if (!possible) {
    throw new Xre1Error('bad_length', `${ciphertextLength} bytes is not a possible XRE1 size`);
  }
  return fullSegments * segmentSize + (rest === 0 ? 0 : rest - TAG_LENGTH);
}

/** Byte offset of ciphertext segment `index` in the object. */
export function segmentCipherOffset(index: number, headerTotalLength: number, segmentSize: number): number {
  assertLength(index, 'segment index');
  assertLength(headerTotalLength, 'header length');
  return headerTotalLength + index * (segmentSize + TAG_LENGTH);
}

function assertLength(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${what} must be a non-negative safe integer, got ${value}`);
  }
}

// ---------------------------------------------------------------------------------------------
// One segment.

function segmentNonce(header: Xre1Header, index: number, last: boolean): Bytes {
  if (index > MAX_SEGMENT_INDEX) {
    throw new Xre1Error('bad_length', 'more segments than the 32-bit segment counter allows');
  }
  const nonce = new Uint8Array(12);
  nonce.set(header.noncePrefix);
  new DataView(nonce.buffer).setUint32(NONCE_PREFIX_LENGTH, index);
  nonce[11] = last ? 1 : 0;
  return nonce;
}

function gcmParams(header: Xre1Header, index: number, last: boolean): AesGcmParams {
  const iv = segmentNonce(header, index, last);
  return { name: 'AES-GCM', iv, additionalData: header.json, tagLength: TAG_LENGTH * 8 };
}

export async function sealSegment(
  dek: CryptoKey,
  header: Xre1Header,
  index: number,
  last: boolean,
  plaintext: Bytes,
): Promise<Bytes> {
  const sealed = await crypto.subtle.encrypt(gcmParams(header, index, last), dek, plaintext);
  return new Uint8Array(sealed);
}

/**
 * Decrypts one segment or throws; never returns unauthenticated bytes. When authentication fails
 * we retry with the opposite last-flag only to name the failure: a segment that opens as "last"
 * where more data follows means trailing data, and the reverse means the real end was cut off.
 */
export async function openSegment(
  dek: CryptoKey,
  header: Xre1Header,
  index: number,
  last: boolean,
  ciphertext: Bytes,
): Promise<Bytes> {
  try {
    return new Uint8Array(await crypto.subtle.decrypt(gcmParams(header, index, last), dek, ciphertext));
  } catch (cause) {
    const opensWithOtherFlag = await crypto.subtle.decrypt(gcmParams(header, index, !last), dek, ciphertext).then(
      () => true,
      () => false,
    );
    if (opensWithOtherFlag && last) {
      throw new Xre1Error('truncated', `the object ends after segment ${index}, which is not its last`, { cause });
    }
    if (opensWithOtherFlag) {
      throw new Xre1Error('trailing_data', `data follows segment ${index}, which is the last`, { cause });
    }
    throw new Xre1Error('auth_failed', `segment ${index} failed authentication`, { cause });
  }
}
