import { DICOM_HEADER_TOO_LONG, DICOM_MAX_HEADER_BYTES } from '@xray/shared';
import { makeDicom } from '@xray/testkit';
import { describe, expect, it } from 'vitest';
import { checkFile, formatBytes } from './file-check.ts';
import { blobOf, smallDicom, smallJpeg, smallPng } from '../../test/fixtures.ts';

/** A Blob that says it is `size` bytes long without holding them (slices read only the head). */
function hugeBlob(head: Uint8Array, size: number): Blob {
  const blob = blobOf(head, 'huge.dcm');
  return Object.defineProperty(blob, 'size', { value: size });
}

describe('checkFile', () => {
  const GiB = 1024 ** 3;
  it('tells the real type from the bytes and reads DICOM tags for the form', async () => {
    const dicom = await checkFile(blobOf(smallDicom({ patientId: 'P-9' }), 'a.dcm'), GiB);
    expect(dicom).toMatchObject({ ok: true, contentType: 'application/dicom', dicom: { patientId: 'P-9' } });
    expect(await checkFile(blobOf(smallPng(1), 'x.jpg'), GiB)).toEqual({ ok: true, contentType: 'image/png' });
    expect(await checkFile(blobOf(smallJpeg(1), 'x'), GiB)).toEqual({ ok: true, contentType: 'image/jpeg' });
  });

  it('reads patient tags past the first 64 KiB (long private data first), and refuses a header past 1 MiB as the server does', async () => {
    const far = makeDicom({
      rows: 16,
      columns: 16,
      patientId: 'P-1003',
      patientName: 'DOE^JOHN',
      privateDataBytes: 70_000,
    });
    expect(await checkFile(blobOf(far, 'far.dcm'), GiB)).toMatchObject({
      ok: true,
      dicom: { patientId: 'P-1003', patientName: 'DOE^JOHN' },
    });
    const long = makeDicom({ rows: 16, columns: 16, privateDataBytes: DICOM_MAX_HEADER_BYTES });
    expect(await checkFile(blobOf(long, 'long.dcm'), GiB)).toEqual({
      ok: false,
      problem: { code: 'invalid_content', message: `long.dcm ${DICOM_HEADER_TOO_LONG}.` },
    });
  });

  it('refuses what is not an X-ray, whatever its name, and empty files', async () => {
    expect(await checkFile(blobOf(new TextEncoder().encode('BP 120/80'), 'fake.png'), GiB)).toEqual({
      ok: false,
      problem: { code: 'unsupported_type', message: 'fake.png is not an X-ray image: use DICOM, PNG or JPEG files.' },
    });
    expect(await checkFile(blobOf(new Uint8Array(0), 'empty.dcm'), GiB)).toMatchObject({
      ok: false,
      problem: { code: 'empty' },
    });
  });

  it('refuses at capture what the server would refuse: polyglots, cut-off and damaged files', async () => {
    const html = new TextEncoder().encode('<html><script>alert(1)</script></html>');
    const withHtml = new Uint8Array([...smallPng(3), ...html]);
    expect(await checkFile(blobOf(withHtml, 'hand.png'), GiB)).toEqual({
      ok: false,
      problem: {
        code: 'invalid_content',
        message: 'hand.png has other data hidden after the end of the image, so it cannot be accepted.',
      },
    });
    const dicom = smallDicom();
    expect(await checkFile(blobOf(dicom.subarray(0, dicom.length - 100), 'chest.dcm'), GiB)).toEqual({
      ok: false,
      problem: { code: 'invalid_content', message: 'chest.dcm is cut off before its end; copy or export it again.' },
    });
    const polyglot = new Uint8Array(dicom);
    polyglot.set(html, 0);
    expect(await checkFile(blobOf(polyglot, 'chest.dcm'), GiB)).toMatchObject({
      ok: false,
      problem: { code: 'invalid_content', message: expect.stringMatching(/^chest\.dcm carries web page code/) },
    });
    const jpeg = smallJpeg(4);
    expect(await checkFile(blobOf(jpeg.subarray(0, jpeg.length - 2), 'knee.jpg'), GiB)).toMatchObject({
      ok: false,
      problem: { code: 'invalid_content' },
    });
  });

  it('refuses a file over the limit before reading it', async () => {
    const result = await checkFile(hugeBlob(smallPng(2), 2 * GiB), GiB, 'huge.dcm');
    expect(result).toEqual({
      ok: false,
      problem: { code: 'too_large', message: 'huge.dcm is 2.1 GB: the server accepts X-rays up to 1.1 GB.' },
    });
  });

  it('formats sizes as people read them', () => {
    expect([0, 999, 1000, 18_000_512, 1024 ** 3, 150e9].map(formatBytes)).toEqual([
      '0 bytes',
      '999 bytes',
      '1.0 kB',
      '18.0 MB',
      '1.1 GB',
      '150 GB',
    ]);
  });
});
