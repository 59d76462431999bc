import { Readable } from 'node:stream';
import { DICOM_HEADER_PREFIX_BYTES, DICOM_MAX_HEADER_BYTES, firstString } from '@xray/shared';
import { makeDicom } from '@xray/testkit';
import { describe, expect, it } from 'vitest';
import type { ByteRange } from '../storage/index.ts';
import { readStoredDicomHeader } from './dicom-index.backfill.ts';

/** A stored X-ray's plaintext served by range, in small chunks as a store would; the ranges asked are kept. */
function storedAs(file: Buffer) {
  const ranges: ByteRange[] = [];
  const reader = {
    openContent: async (_x: unknown, range: ByteRange) => {
      ranges.push(range);
      const bytes = file.subarray(range.start, range.end + 1);
      const chunks = Array.from({ length: Math.ceil(bytes.length / 4096) }, (_, i) =>
        bytes.subarray(i * 4096, (i + 1) * 4096),
      );
      return Readable.from(chunks);
    },
  };
  return { reader, ranges, x: { sizeBytes: file.length } };
}

const bytesRead = (ranges: ByteRange[]) => ranges.reduce((n, r) => n + r.end - r.start + 1, 0);

describe('readStoredDicomHeader (xray-admin dicom-index)', () => {
  it('reads an ordinary header with one read of the first 64 KiB, never the pixels', async () => {
    const file = makeDicom({ rows: 512, columns: 512, patientId: 'P-1001' });
    const { reader, ranges, x } = storedAs(file);
    const header = await readStoredDicomHeader(reader, x);
    expect(header.complete).toBe(true);
    expect(firstString(header.dataset['00100020'])).toBe('P-1001');
    expect(ranges).toEqual([{ start: 0, end: DICOM_HEADER_PREFIX_BYTES - 1 }]);
  });

  it('reads on past 64 KiB of private data to the patient tags, each byte once, stopping at the pixel data', async () => {
    const file = makeDicom({
      rows: 1024,
      columns: 1024,
      patientId: 'P-1003',
      patientName: 'DOE^JOHN',
      privateDataBytes: 200_000,
    });
    const { reader, ranges, x } = storedAs(file);
    const header = await readStoredDicomHeader(reader, x);
    expect(header.complete).toBe(true);
    expect(firstString(header.dataset['00100020'])).toBe('P-1003');
    // Contiguous reads from 0, none twice, ending past the header but far short of the 2 MB of pixels.
    ranges.forEach((r, i) => expect(r.start).toBe(i === 0 ? 0 : ranges[i - 1]!.end + 1));
    expect(bytesRead(ranges)).toBeGreaterThan(header.pixelData!.start);
    expect(bytesRead(ranges)).toBeLessThanOrEqual(4 * DICOM_HEADER_PREFIX_BYTES);
    expect(bytesRead(ranges)).toBeLessThan(file.length / 4);
  });

  it('reads a file shorter than 64 KiB whole, asking for no byte past its end', async () => {
    const file = makeDicom({ rows: 16, columns: 16, patientId: 'P-1001' });
    const { reader, ranges, x } = storedAs(file);
    expect(firstString((await readStoredDicomHeader(reader, x)).dataset['00100020'])).toBe('P-1001');
    expect(ranges).toEqual([{ start: 0, end: file.length - 1 }]);
  });

  it('refuses a header that runs past DICOM_MAX_HEADER_BYTES, having read no more than that', async () => {
    const file = makeDicom({ rows: 16, columns: 16, patientId: 'P-1001', privateDataBytes: DICOM_MAX_HEADER_BYTES });
    const { reader, ranges, x } = storedAs(file);
    await expect(readStoredDicomHeader(reader, x)).rejects.toThrow(
      `its DICOM header runs past ${DICOM_MAX_HEADER_BYTES} bytes without reaching the pixel data`,
    );
    expect(bytesRead(ranges)).toBe(DICOM_MAX_HEADER_BYTES);
  });

  it('refuses a stored object that comes back shorter than asked, instead of asking again for ever', async () => {
    const file = makeDicom({ rows: 16, columns: 16, privateDataBytes: 100_000 });
    const { reader, x } = storedAs(file.subarray(0, 70_000));
    await expect(readStoredDicomHeader(reader, { sizeBytes: x.sizeBytes + 40_000 })).rejects.toThrow(
      /read as \d+ bytes/,
    );
  });
});
