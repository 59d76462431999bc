import { createHash } from 'node:crypto';
import { DICOM_MAX_HEADER_BYTES, loadDicomReader } from '@xray/shared';
import { dicomChunks, dicomSize, dicomTagsFor, makeDicom, makeJpeg, makePng } from '@xray/testkit';
import { describe, expect, it } from 'vitest';
import { DomainError } from '../errors.ts';
import { ContentInspection, ContentInspector } from './content-inspector.ts';

const MAX = 64 * 1024 * 1024;
const reader = await loadDicomReader();

const thrown = (work: () => unknown): unknown => {
  try {
    work();
  } catch (err) {
    return err;
  }
  return undefined;
};

/** Feeds `bytes` in pieces of `size`; returns the refusal, if any, and how many bytes went in before it. */
function inspect(bytes: Uint8Array, size = 1000) {
  const inspection = new ContentInspection(MAX, reader);
  let fed = 0;
  try {
    for (; fed < bytes.length; fed += size) inspection.update(bytes.subarray(fed, fed + size));
    inspection.end();
    return { result: inspection.result(), error: null, fed };
  } catch (err) {
    if (!(err instanceof DomainError)) throw err;
    return { result: null, error: err, fed };
  }
}

describe('ContentInspection', () => {
  it('walks an 18 MB DICOM chunk by chunk, keeping only the header prefix and a small buffer', () => {
    const inspection = new ContentInspection(MAX, reader);
    const hash = createHash('sha256');
    let retained = 0;
    for (const chunk of dicomChunks({ seed: 2 })) {
      hash.update(chunk);
      inspection.update(chunk);
      retained = Math.max(retained, inspection.retainedBytes);
    }
    inspection.end();
    expect(inspection.result()).toEqual({
      sha256: hash.digest('hex'),
      sizeBytes: dicomSize({ seed: 2 }),
      contentType: 'application/dicom',
      dicom: dicomTagsFor({ seed: 2 }),
      // The header dcmjs read from the buffered prefix (the DICOMweb index is made from it).
      dicomHeader: expect.objectContaining({ complete: true }),
    });
    expect(retained).toBeLessThanOrEqual(64 * 1024 + 1024);
  });

  it('reads the patient tags however far the header puts them, holding the header and no more', () => {
    // 70 KB of private vendor data before the patient's group: past a 64 KiB prefix.
    const options = { rows: 64, columns: 64, patientId: 'P-1003', patientName: 'DOE^JOHN', privateDataBytes: 70_000 };
    const file = makeDicom(options);
    const headerBytes = file.length - 64 * 64 * 2;
    for (const size of [1000, 64 * 1024, 5 * 1024 * 1024]) {
      const inspection = new ContentInspection(MAX, reader);
      let retained = 0;
      for (let at = 0; at < file.length; at += size) {
        inspection.update(file.subarray(at, at + size));
        retained = Math.max(retained, inspection.retainedBytes);
      }
      inspection.end();
      const { dicom, dicomHeader } = inspection.result();
      expect(dicom, `chunks of ${size}`).toMatchObject({ patientId: 'P-1003', patientName: 'DOE^JOHN' });
      expect(dicomHeader?.complete).toBe(true);
      // What is kept past the chunk in hand is the header, up to its pixel data's value.
      expect(inspection.retainedBytes).toBeLessThanOrEqual(headerBytes + 1024);
      expect(retained).toBeLessThanOrEqual(DICOM_MAX_HEADER_BYTES + 1024);
    }
  });

  it('refuses a DICOM whose header runs past DICOM_MAX_HEADER_BYTES as soon as it does (422), whatever the chunks', () => {
    const file = makeDicom({ rows: 16, columns: 16, privateDataBytes: DICOM_MAX_HEADER_BYTES });
    for (const size of [1000, 64 * 1024, 4 * 1024 * 1024]) {
      const { error, fed } = inspect(file, size);
      expect(error, `chunks of ${size}`).toMatchObject({
        code: 'content_invalid',
        message: expect.stringMatching(
          /^The DICOM file has more than 1 MiB of header data before its image .*Nothing was stored\. \(/,
        ),
      });
      expect(fed).toBeLessThanOrEqual(DICOM_MAX_HEADER_BYTES + size);
    }
    // Just under the bound is taken.
    const under = makeDicom({ rows: 16, columns: 16, privateDataBytes: DICOM_MAX_HEADER_BYTES - 2048 });
    expect(inspect(under, 64 * 1024).error).toBeNull();
  });

  it('passes PNG and JPEG, also files shorter than the sniff window', () => {
    for (const file of [makePng(), makeJpeg(), makePng({ width: 1, height: 1 })]) {
      for (const size of [1, 7, 131, 132, 100_000]) expect(inspect(file, size).error).toBeNull();
    }
    expect(makePng({ width: 1, height: 1 }).length).toBeLessThan(132);
  });

  it('refuses a polyglot DICOM as soon as its preamble is in, without waiting for the rest', () => {
    const dicom = makeDicom({ rows: 512, columns: 512 });
    Buffer.from('<html><script>alert(1)</script>').copy(dicom, 0);
    const { error, fed } = inspect(dicom, 200);
    expect(error).toMatchObject({
      code: 'content_invalid',
      message:
        'The DICOM file carries web page code (HTML, SVG or script) in its first bytes, so it cannot be accepted. ' +
        'Nothing was stored. (markup in the 128-byte preamble)',
    });
    expect(fed).toBe(0);
  });

  it('refuses a truncated DICOM at its end, a PNG with HTML after it, a JPEG without EOI', () => {
    const dicom = makeDicom({ rows: 64, columns: 64 });
    expect(inspect(dicom.subarray(0, dicom.length - 1)).error).toMatchObject({
      code: 'content_invalid',
      message: expect.stringMatching(/^The DICOM file is cut off before its end; copy or export it again\./),
    });
    expect(inspect(Buffer.concat([makePng(), Buffer.from('<html></html>')])).error?.code).toBe('content_invalid');
    // PNG chunks are checked with node:zlib's CRC-32 here.
    const png = makePng({ width: 300, height: 300 });
    png[png.length - 100] = (png[png.length - 100] ?? 0) ^ 0x40;
    expect(inspect(png, 4096).error?.message).toMatch(
      /^The PNG file is damaged: one of its checksums does not match\./,
    );
    const jpeg = makeJpeg();
    expect(inspect(jpeg.subarray(0, jpeg.length - 2)).error?.code).toBe('content_invalid');
  });

  it('refuses a DICOM encoding it does not take as unsupported (415), not broken', () => {
    const dicom = makeDicom({ rows: 8, columns: 8 });
    const deflated = Buffer.from(
      dicom.toString('latin1').replace('1.2.840.10008.1.2.1\0', '1.2.840.10008.1.2.1.99'),
      'latin1',
    );
    // The UID grew by 2 bytes: its element's length and the meta group length follow.
    const at = deflated.indexOf('1.2.840.10008.1.2.1.99');
    deflated.writeUInt16LE(22, at - 2);
    deflated.writeUInt32LE(deflated.readUInt32LE(140) + 2, 140);
    expect(inspect(deflated).error).toMatchObject({ code: 'unsupported_media_type' });
  });

  it('answers result() with its refusal, also when the stream error went unseen downstream', async () => {
    // The REST door's stage: its error can be emitted before the encrypting consumer attaches.
    const inspector = new ContentInspector(MAX, reader);
    inspector.on('error', () => undefined);
    inspector.end(Buffer.concat([makePng(), Buffer.from('<html></html>')]));
    await new Promise((closed) => inspector.once('close', closed));
    expect(thrown(() => inspector.result())).toMatchObject({ code: 'content_invalid' });

    const tooMany = new ContentInspection(100, reader);
    expect(thrown(() => tooMany.update(makePng()))).toMatchObject({ code: 'payload_too_large' });
    expect(thrown(() => tooMany.end())).toMatchObject({ code: 'payload_too_large' });
    expect(thrown(() => tooMany.result())).toMatchObject({ code: 'payload_too_large' });
  });
});

describe('ContentInspection with a reader loader', () => {
  const SMALL = (seed: number) => ({ seed, rows: 16, columns: 16 });
  /** A loader that counts its loads and fails or gives the reader as told; nothing loaded before. */
  const loaderOf = (fail: boolean) => {
    const calls = { load: 0 };
    return {
      calls,
      loader: {
        current: () => undefined,
        load: () => {
          calls.load++;
          return fail ? Promise.reject(new DomainError('internal', 'no reader')) : Promise.resolve(reader);
        },
      },
    };
  };

  it('a PNG or JPEG never loads the DICOM reader', async () => {
    for (const file of [makePng({ seed: 7 }), makeJpeg({ seed: 7 })]) {
      const { calls, loader } = loaderOf(true);
      const inspection = new ContentInspection(MAX, loader);
      inspection.update(file);
      inspection.end();
      await inspection.ready();
      expect(inspection.result().sizeBytes).toBe(file.length);
      expect(calls.load).toBe(0);
    }
  });

  it('a DICOM loads it once its first bytes say DICOM, and its header is read after ready()', async () => {
    const { calls, loader } = loaderOf(false);
    const file = makeDicom(SMALL(8));
    const inspection = new ContentInspection(MAX, loader);
    inspection.update(file.subarray(0, 200));
    expect(calls.load).toBe(1);
    inspection.update(file.subarray(200));
    inspection.end();
    await inspection.ready();
    expect(inspection.result().dicom).toEqual(dicomTagsFor(SMALL(8)));
    expect(calls.load).toBe(1);
  });

  it("the reader's load failure is what ready() and result() throw, not a refusal of the file", async () => {
    const { loader } = loaderOf(true);
    const inspection = new ContentInspection(MAX, loader);
    inspection.update(makeDicom(SMALL(9)));
    inspection.end();
    await expect(inspection.ready()).rejects.toMatchObject({ code: 'internal' });
    expect(thrown(() => inspection.result())).toMatchObject({ code: 'internal' });
  });
});
