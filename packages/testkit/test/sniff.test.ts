import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CONTENT_SNIFF_BYTES, sniffContentType } from '@xray/shared';
import { makeDicom, makeJpeg, makePng } from '../src/index.ts';

/** Deterministic bytes that look like nothing in particular. */
function noise(length: number, seed: string): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; parts.length * 32 < length; i++) parts.push(createHash('sha256').update(`${seed} ${i}`).digest());
  return Buffer.concat(parts).subarray(0, length);
}

describe('sniffContentType on files the testkit makes', () => {
  it('recognises all three kinds from their first 132 bytes', () => {
    const head = (bytes: Buffer) => bytes.subarray(0, CONTENT_SNIFF_BYTES);
    expect(sniffContentType(head(makeDicom({ rows: 64, columns: 64 })))).toBe('application/dicom');
    expect(sniffContentType(head(makePng()))).toBe('image/png');
    expect(sniffContentType(head(makeJpeg()))).toBe('image/jpeg');
  });

  it('rejects a PDF, random bytes and a DICOM file without its preamble', () => {
    const pdf = Buffer.from(
      '%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n'.padEnd(200, ' '),
      'latin1',
    );
    expect(sniffContentType(pdf)).toBeNull();
    for (const seed of ['a', 'b', 'c', 'd']) expect(sniffContentType(noise(4096, seed))).toBeNull();
    expect(sniffContentType(makeDicom({ rows: 64, columns: 64 }).subarray(128))).toBeNull();
  });
});
