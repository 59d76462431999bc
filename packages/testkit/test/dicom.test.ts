import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createWriteStream } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTENT_SNIFF_BYTES, DICOM_HEADER_PREFIX_BYTES, loadDicomReader, sniffContentType } from '@xray/shared';
import {
  dcmtk,
  dicomChunks,
  dicomDimensionsForSize,
  dicomSize,
  dicomStream,
  dicomTagsFor,
  makeDicom,
  sha256File,
  sha256Hex,
  writeDicom,
  type WrittenDicom,
} from '../src/index.ts';

const { extractDicomTags } = await loadDicomReader();

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xray-testkit-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function readHead(path: string, length: number): Promise<Buffer> {
  const file = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await file.read(buffer, 0, length, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}

/** `(gggg,eeee) VR [value]` lines of dcmdump output, by tag. */
function dumpValues(dump: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const line of dump.split('\n')) {
    const match = /^\((\w{4},\w{4})\) \w\w (?:\[(.*?)\]|=(\S+)|(\S+))/u.exec(line);
    if (match?.[1] !== undefined) values.set(match[1], match[2] ?? match[3] ?? match[4] ?? '');
  }
  return values;
}

describe('writeDicom, default 3000×3000 chest DR', () => {
  let written: WrittenDicom;
  let elapsedMs: number;

  beforeAll(async () => {
    const started = performance.now();
    written = await writeDicom(join(dir, 'chest.dcm'), {
      patientId: 'PAT-7781',
      bodyPart: 'CHEST',
      view: 'AP',
      studyDate: '20260301',
      seed: 7,
    });
    elapsedMs = performance.now() - started;
    console.info(`wrote ${written.size} bytes in ${elapsedMs.toFixed(0)} ms`);
  }, 60_000);

  it('is about 18 MB, the size dicomSize predicts, and hashes to what it returned', async () => {
    expect(written.size).toBe(dicomSize({ patientId: 'PAT-7781', view: 'AP', studyDate: '20260301', seed: 7 }));
    expect(written.size).toBeGreaterThan(18_000_000);
    expect(written.size).toBeLessThan(18_010_000);
    expect(written.sha256).toBe(await sha256File(written.path));
  });

  it('is a DICOM Part 10 file to dcmtk, with the right tags', async () => {
    expect((await dcmtk('dcmftest', [written.path])).stdout).toMatch(/^yes:/u);
    const { stdout, stderr } = await dcmtk('dcmdump', ['-ll', 'warn', written.path]);
    expect(stderr).toBe(''); // no warnings or errors
    const values = dumpValues(stdout);
    expect(values.get('0002,0002')).toBe('DigitalXRayImageStorageForPresentation');
    expect(values.get('0002,0010')).toBe('LittleEndianExplicit');
    expect(values.get('0010,0020')).toBe('PAT-7781');
    expect(values.get('0008,0060')).toBe('DX');
    expect(values.get('0008,0020')).toBe('20260301');
    expect(values.get('0018,0015')).toBe('CHEST');
    expect(values.get('0018,5101')).toBe('AP');
    expect(values.get('0028,0010')).toBe('3000');
    expect(values.get('0028,0011')).toBe('3000');
    expect(values.get('0028,0100')).toBe('16');
    expect(values.get('0028,0101')).toBe('12');
    expect(values.get('0028,0004')).toBe('MONOCHROME2');
    expect(values.get('0002,0003')).toBe(values.get('0008,0018'));
    expect(stdout).toMatch(/\(7fe0,0010\) OW .* # 18000000, 1 PixelData/u);
  });

  it('has pixel data dcmtk can render: a bright field in the middle, dark edges, noise', async () => {
    const out = join(dir, 'chest.pgm');
    await dcmtk('dcm2pnm', ['--write-raw-pnm', '--min-max-window', '--scale-x-size', '300', written.path, out]);
    const pgm = await readFile(out);
    const header = /^P5\s+(\d+)\s+(\d+)\s+255\s/u.exec(pgm.toString('latin1', 0, 32));
    expect(header?.slice(1, 3)).toEqual(['300', '300']);
    const pixels = pgm.subarray(header?.[0].length ?? 0);
    expect(pixels.length).toBe(300 * 300);
    const at = (x: number, y: number) => pixels[y * 300 + x] ?? 0;
    expect(at(150, 150)).toBeGreaterThan(at(2, 2) + 100);
    expect(new Set(pixels.subarray(150 * 300, 151 * 300)).size).toBeGreaterThan(50); // a gradient across the middle row
  }, 30_000);

  it('has a correct file meta group length', async () => {
    const head = await readHead(written.path, 1024);
    expect(head.toString('latin1', 128, 132)).toBe('DICM');
    expect(head.toString('latin1', 136, 138)).toBe('UL');
    const groupLength = head.readUInt32LE(140);
    // The data set starts with (0008,0016) UI right where the meta group ends.
    const dataSetStart = 144 + groupLength;
    expect([...head.subarray(dataSetStart, dataSetStart + 6)]).toEqual([0x08, 0x00, 0x16, 0x00, 0x55, 0x49]);
    // …and the last meta element, (0002,0013) SH, ends exactly there.
    const lastMeta = dataSetStart - 8 - 14;
    expect([...head.subarray(lastMeta, lastMeta + 6)]).toEqual([0x02, 0x00, 0x13, 0x00, 0x53, 0x48]);
    expect(head.readUInt16LE(lastMeta + 6)).toBe(14);
  });

  it('gives @xray/shared its tags from the first 64 KiB', async () => {
    const head = await readHead(written.path, DICOM_HEADER_PREFIX_BYTES);
    expect(head.length).toBe(64 * 1024);
    expect(sniffContentType(head.subarray(0, CONTENT_SNIFF_BYTES))).toBe('application/dicom');
    const tags = extractDicomTags(head);
    expect(tags).toEqual(written.tags);
    expect(tags).toMatchObject({
      patientId: 'PAT-7781',
      modality: 'DX',
      bodyPartExamined: 'CHEST',
      viewPosition: 'AP',
      studyDate: '20260301',
      rows: 3000,
      columns: 3000,
      bitsAllocated: 16,
      transferSyntaxUid: '1.2.840.10008.1.2.1',
    });
  });

  it('is written in well under the time an upload test takes', () => {
    expect(elapsedMs).toBeLessThan(10_000);
  });
});

describe('dicomChunks and friends', () => {
  const small = { rows: 256, columns: 256 };

  it('privateDataBytes puts that much vendor data before the patient tags (its own UIDs: another file)', () => {
    const options = { ...small, privateDataBytes: 70_000 };
    const far = makeDicom(options);
    expect(far.length).toBe(dicomSize(options));
    expect(far.length).toBe(makeDicom(small).length + 70_000 + 12 + 8 + 14);
    expect(far.indexOf('TEST^PATIENT')).toBeGreaterThan(70_000);
    expect(extractDicomTags(far)).toEqual(dicomTagsFor(options));
    expect(dicomTagsFor(options).sopInstanceUid).not.toBe(dicomTagsFor(small).sopInstanceUid);
    expect(extractDicomTags(far.subarray(0, DICOM_HEADER_PREFIX_BYTES)).patientId).toBeUndefined();
    expect(() => makeDicom({ ...small, privateDataBytes: 3 })).toThrow(RangeError);
  });

  it('issuerOfPatientId writes IssuerOfPatientID (0010,0021); without it none is written and the file is unchanged', () => {
    const issued = makeDicom({ ...small, issuerOfPatientId: 'CLINIC-B' });
    expect(extractDicomTags(issued)).toEqual(dicomTagsFor({ ...small, issuerOfPatientId: 'CLINIC-B' }));
    expect(extractDicomTags(issued).issuerOfPatientId).toBe('CLINIC-B');
    expect(extractDicomTags(makeDicom(small))).not.toHaveProperty('issuerOfPatientId');
    expect(makeDicom({ ...small, issuerOfPatientId: undefined }).equals(makeDicom(small))).toBe(true);
  });

  it('stream in bounded chunks whatever the image size', () => {
    const big = dicomDimensionsForSize(200 * 1024 * 1024);
    let largest = 0;
    let count = 0;
    // Only look at the first few chunks: enough to see the pixel data is not one buffer.
    for (const chunk of dicomChunks(big)) {
      largest = Math.max(largest, chunk.length);
      if (++count === 4) break;
    }
    expect(largest).toBeLessThanOrEqual(1024 * 1024);
    expect(dicomSize(big)).toBeGreaterThanOrEqual(200 * 1024 * 1024);
  });

  it('writes a 50 MB file chunk by chunk', async () => {
    const dimensions = dicomDimensionsForSize(50_000_000);
    const written = await writeDicom(join(dir, 'big.dcm'), dimensions);
    expect(written.size).toBe(dicomSize(dimensions));
    expect(written.size).toBeGreaterThanOrEqual(50_000_000);
    expect(written.sha256).toBe(await sha256File(written.path));
    expect(extractDicomTags(await readHead(written.path, DICOM_HEADER_PREFIX_BYTES))).toEqual(written.tags);
    await rm(written.path);
  }, 60_000);

  it('are deterministic: the same options give the same bytes', async () => {
    const a = makeDicom({ ...small, seed: 3 });
    const b = makeDicom({ ...small, seed: 3 });
    expect(sha256Hex(a)).toBe(sha256Hex(b));
    const path = join(dir, 'streamed.dcm');
    await pipeline(dicomStream({ ...small, seed: 3 }), createWriteStream(path));
    expect(await sha256File(path)).toBe(sha256Hex(a));
  });

  it('make pixels whose runs do not turn up in other files', () => {
    const original = makeDicom({ ...small, seed: 1 });
    const others = [
      makeDicom({ ...small, seed: 2 }),
      makeDicom({ ...small, seed: 1, patientId: 'PAT-0002' }),
      makeDicom({ rows: 257, columns: 256, seed: 1 }),
    ];
    const pixelStart = original.length - 256 * 256 * 2;
    for (const offset of [0, 1000, 50_000, 100_000, 131_000]) {
      const run = original.subarray(pixelStart + offset, pixelStart + offset + 64);
      for (const other of others) expect(other.indexOf(run)).toBe(-1);
    }
    // Not trivially compressible: no 64-byte run repeats within the file either.
    const run = original.subarray(pixelStart + 4096, pixelStart + 4096 + 64);
    expect(original.indexOf(run)).toBe(pixelStart + 4096);
    expect(original.lastIndexOf(run)).toBe(pixelStart + 4096);
  });

  it('use different UIDs for different options, and the ones given', () => {
    const first = dicomTagsFor({ seed: 1 });
    const second = dicomTagsFor({ seed: 2 });
    expect(first.sopInstanceUid).not.toBe(second.sopInstanceUid);
    expect(first.studyInstanceUid).not.toBe(second.studyInstanceUid);
    expect(first.sopInstanceUid).toMatch(/^2\.25\.[1-9]\d{0,38}$/u);
    const inStudy = dicomTagsFor({ seed: 2, studyInstanceUid: '1.2.3', seriesInstanceUid: '1.2.3.4' });
    expect(inStudy).toMatchObject({ studyInstanceUid: '1.2.3', seriesInstanceUid: '1.2.3.4' });
    expect(extractDicomTags(makeDicom({ ...small, seed: 2, studyInstanceUid: '1.2.3' })).studyInstanceUid).toBe(
      '1.2.3',
    );
  });

  it('write UTF-8 names with Specific Character Set ISO_IR 192', async () => {
    const path = join(dir, 'utf8.dcm');
    await writeDicom(path, { ...small, patientName: 'Müller^Jörg' });
    const { stdout } = await dcmtk('dcmdump', ['+U8', path]);
    expect(dumpValues(stdout).get('0008,0005')).toBe('ISO_IR 192');
    expect(extractDicomTags(await readFile(path)).patientName).toBe('Müller^Jörg');
  });

  it('refuse options a DICOM file cannot hold', () => {
    expect(() => makeDicom({ rows: 0 })).toThrow(RangeError);
    expect(() => makeDicom({ columns: 70_000 })).toThrow(RangeError);
    expect(() => makeDicom({ studyDate: '2026-03-01' })).toThrow(RangeError);
    expect(() => makeDicom({ bodyPart: 'chest' })).toThrow(RangeError);
  });
});
