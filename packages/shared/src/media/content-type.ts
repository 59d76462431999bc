import type { ContentType } from '../schemas/xray.ts';

/** Bytes `sniffContentType` needs: the DICOM Part 10 preamble (128) plus "DICM" (4). */
export const CONTENT_SNIFF_BYTES = 132;

const DICOM_MAGIC_OFFSET = 128;
const DICOM_MAGIC = [0x44, 0x49, 0x43, 0x4d]; // "DICM"
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG_SOI = [0xff, 0xd8, 0xff];

function startsWithAt(head: Uint8Array, offset: number, signature: readonly number[]): boolean {
  if (head.length < offset + signature.length) return false;
  return signature.every((byte, i) => head[offset + i] === byte);
}

/**
 * Recognises DICOM Part 10, PNG and JPEG from the head of a file (pass at least
 * `CONTENT_SNIFF_BYTES`; fewer is fine for PNG and JPEG). Anything else is `null`.
 */
export function sniffContentType(head: Uint8Array): ContentType | null {
  if (startsWithAt(head, DICOM_MAGIC_OFFSET, DICOM_MAGIC)) return 'application/dicom';
  if (startsWithAt(head, 0, PNG_SIGNATURE)) return 'image/png';
  if (startsWithAt(head, 0, JPEG_SOI)) return 'image/jpeg';
  return null;
}
