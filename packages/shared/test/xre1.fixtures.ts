/** Inputs shared by the vector generator and the tests. Node-only helpers are fine here. */
import { createHash } from 'node:crypto';
import { importDek } from '../src/crypto/index.ts';

export const MiB = 1024 * 1024;

/** Fixed key 0x00..0x1f and nonce prefix a0..a6: never use outside test vectors. */
export const VECTOR_KEY = Uint8Array.from({ length: 32 }, (_, i) => i);
export const VECTOR_NONCE_PREFIX = Uint8Array.from({ length: 7 }, (_, i) => 0xa0 + i);
export const PLAINTEXT_RULE = 'byte i = (i * 31 + 7) & 0xff';

export function vectorPlaintext(length: number): Uint8Array<ArrayBuffer> {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + 7) & 0xff);
}

export interface VectorCase {
  name: string;
  plaintextLength: number;
  segmentSize: number;
  /** Small vectors carry the full ciphertext so other implementations can diff byte by byte. */
  includeHex: boolean;
}

export const VECTOR_CASES: VectorCase[] = [
  { name: 'empty', plaintextLength: 0, segmentSize: MiB, includeHex: true },
  { name: '1 byte', plaintextLength: 1, segmentSize: MiB, includeHex: true },
  { name: 'exactly 1 MiB', plaintextLength: MiB, segmentSize: MiB, includeHex: false },
  { name: '1 MiB + 1', plaintextLength: MiB + 1, segmentSize: MiB, includeHex: false },
  { name: '3.5 MiB', plaintextLength: 3.5 * MiB, segmentSize: MiB, includeHex: false },
  // Non-default segment size: three segments small enough to show every nonce and flag in hex.
  { name: '150 bytes, 64-byte segments', plaintextLength: 150, segmentSize: 64, includeHex: true },
];

export interface Vector {
  name: string;
  segmentSize: number;
  plaintextLength: number;
  plaintextSha256: string;
  ciphertextLength: number;
  ciphertextSha256: string;
  ciphertextHex?: string;
}

export interface VectorFile {
  format: string;
  description: string;
  key: string;
  noncePrefix: string;
  plaintext: string;
  vectors: Vector[];
}

export const VECTORS_PATH = new URL('../test-vectors/xre1.json', import.meta.url);

export function vectorDek(): Promise<CryptoKey> {
  return importDek(VECTOR_KEY);
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function fromHex(hex: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(hex.match(/../g) ?? [], (pair) => parseInt(pair, 16));
}

/** getRandomValues fills at most 64 KiB per call. */
export function randomBytes(length: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(length);
  for (let offset = 0; offset < length; offset += 65_536) {
    crypto.getRandomValues(bytes.subarray(offset, offset + 65_536));
  }
  return bytes;
}
