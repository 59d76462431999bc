import { describe, expect, it } from 'vitest';
import {
  DICOM_HEADER_PREFIX_BYTES,
  DICOM_MAX_HEADER_BYTES,
  DicomParseError,
  dicomTagsOf,
  loadDicomReader,
  toDicomJson,
} from '../src/index.ts';
import {
  dicomFile,
  dicomImage,
  element,
  encapsulated,
  EXPLICIT_LE,
  IMPLICIT_LE,
  sequence,
  text,
  TS,
  uid,
  type Encoding,
} from './walker.fixtures.ts';

const { readDicomHeader, dicomTagOfKeyword, dicomVrOf } = await loadDicomReader();

const utf8 = (value: string): Uint8Array => {
  const bytes = new TextEncoder().encode(value);
  return bytes.length % 2 ? Uint8Array.from([...bytes, 0x20]) : bytes;
};
const IMAGE = { rows: 2, columns: 3, bitsAllocated: 16 };
const reference = (enc: Encoding, n: number) => [
  element(enc, 0x00081150, 'UI', uid('1.2.840.10008.5.1.4.1.1.1.1')),
  element(enc, 0x00081155, 'UI', uid(`1.2.3.${n}`)),
];

/** A file with sequences (defined and undefined length) and a UTF-8 name before the pixel data. */
function fileWithSequences(enc: Encoding, transferSyntax: string): Uint8Array {
  return dicomFile({
    transferSyntax,
    dataset: [
      element(enc, 0x00080005, 'CS', text('ISO_IR 192')),
      ...dicomImage(enc, IMAGE, {
        before: [
          element(enc, 0x00081030, 'LO', utf8('Thorax ä')),
          sequence(enc, 0x00081110, [reference(enc, 1), reference(enc, 2)]),
          sequence(enc, 0x00081111, [reference(enc, 3)], { undefinedLength: true, undefinedItems: true }),
        ],
      }),
    ],
  });
}

describe('loadDicomReader', () => {
  it('loads dcmjs once: every call gives the same reader', async () => {
    const [a, b] = await Promise.all([loadDicomReader(), loadDicomReader()]);
    expect(a).toBe(b);
    expect(await loadDicomReader()).toBe(a);
    expect(a.readDicomHeader).toBe(readDicomHeader);
  });
});

describe('readDicomHeader (dcmjs behind the walker)', () => {
  it.each([
    ['explicit VR', EXPLICIT_LE, TS.explicitLittle],
    ['implicit VR', IMPLICIT_LE, TS.implicitLittle],
  ] as const)(
    '%s: every prefix gives whole values only — each attribute as in the whole file, or absent',
    (_n, enc, ts) => {
      const file = fileWithSequences(enc, ts);
      const whole = readDicomHeader(file);
      expect(whole.complete).toBe(true);
      expect(whole.dataset['00081110']?.Value).toHaveLength(2);
      expect(whole.dataset['00081030']?.Value).toEqual(['Thorax ä']);
      let sawPartial = false;
      for (let n = 133; n <= file.length; n++) {
        let header;
        try {
          header = readDicomHeader(file.subarray(0, n));
        } catch (err) {
          // Only while the meta group itself is cut.
          expect(err).toBeInstanceOf(DicomParseError);
          expect(n).toBeLessThan(300);
          continue;
        }
        for (const [tag, attribute] of Object.entries(header.dataset)) {
          expect(attribute.Value, `${tag} at ${n}`).toEqual(whole.dataset[tag]?.Value);
        }
        if (!header.complete && Object.keys(header.dataset).length > 0) sawPartial = true;
      }
      expect(sawPartial).toBe(true);
    },
  );

  it('finds the pixel data (native and encapsulated) and its VR', () => {
    const native = readDicomHeader(fileWithSequences(EXPLICIT_LE, TS.explicitLittle));
    expect(native.pixelData).toMatchObject({ encapsulated: false, length: 12, vr: 'OW' });
    const jpeg = dicomFile({
      transferSyntax: '1.2.840.10008.1.2.4.70',
      dataset: [
        element(EXPLICIT_LE, 0x00280010, 'US', Uint8Array.of(2, 0)),
        element(EXPLICIT_LE, 0x00280011, 'US', Uint8Array.of(3, 0)),
        element(EXPLICIT_LE, 0x00280100, 'US', Uint8Array.of(16, 0)),
        encapsulated([Uint8Array.of(0xff, 0xd8, 0xff, 0xd9)]),
      ],
    });
    expect(readDicomHeader(jpeg).pixelData).toMatchObject({ encapsulated: true, length: undefined, vr: 'OB' });
  });

  it('refuses what is not DICOM Part 10', () => {
    expect(() => readDicomHeader(new TextEncoder().encode('not dicom'.padEnd(400, '.')))).toThrow(DicomParseError);
  });
});

describe('toDicomJson (PS3.18 F.2)', () => {
  it('keeps values as DICOM JSON, gives bulk data by URI, leaves out group lengths and the meta group', () => {
    const enc = EXPLICIT_LE;
    const file = dicomFile({
      dataset: [
        element(enc, 0x00080005, 'CS', text('ISO_IR 192')),
        element(enc, 0x00081110, 'SQ', new Uint8Array(0)),
        element(enc, 0x00090010, 'LO', text('PRIVATE')),
        element(enc, 0x00091001, 'OB', Uint8Array.of(1, 2, 3, 4)),
        element(enc, 0x00100010, 'PN', utf8('Müller^Jörg')),
        element(enc, 0x00100020, 'LO', text('')),
        element(enc, 0x00280010, 'US', Uint8Array.of(2, 0)),
        element(enc, 0x00280011, 'US', Uint8Array.of(3, 0)),
        element(enc, 0x00280100, 'US', Uint8Array.of(16, 0)),
        element(enc, 0x7fe00010, 'OW', new Uint8Array(12)),
      ],
    });
    const json = toDicomJson(readDicomHeader(file), 'https://x/instance');
    expect(json['00100010']).toEqual({ vr: 'PN', Value: [{ Alphabetic: 'Müller^Jörg' }] });
    expect(json['00280010']).toEqual({ vr: 'US', Value: [2] });
    expect(json['00091001']).toEqual({ vr: 'OB', BulkDataURI: 'https://x/instance' });
    expect(json['00081110']).toEqual({ vr: 'SQ' });
    expect(json['00100020']).toEqual({ vr: 'LO' });
    expect(json['7FE00010']).toEqual({ vr: 'OW', BulkDataURI: 'https://x/instance' });
    // The file meta group is not part of the model (dcm2json leaves it out too).
    expect(Object.keys(json).some((t) => t.startsWith('0002'))).toBe(false);
    expect(Object.keys(json).some((t) => t.endsWith('0000'))).toBe(false);
    expect(Object.keys(json)).toEqual([...Object.keys(json)].sort());
  });

  it('knows keywords and VRs from the dictionary', () => {
    expect(dicomTagOfKeyword('PatientName')).toBe('00100010');
    expect(dicomTagOfKeyword('StudyInstanceUID')).toBe('0020000D');
    expect(dicomTagOfKeyword('NoSuchKeyword')).toBeUndefined();
    expect(dicomTagOfKeyword('constructor')).toBeUndefined();
    expect(dicomTagOfKeyword('toString')).toBeUndefined();
    expect(dicomVrOf('00100010')).toBe('PN');
    expect(dicomVrOf('00201208')).toBe('IS');
  });
});

describe('readDicomHeader of a Node Buffer', () => {
  it('reads only its own bytes, not the pool a small Buffer shares', () => {
    const file = dicomFile({ dataset: dicomImage(EXPLICIT_LE, IMAGE) });
    // Buffer.from(...) of a small array lands in Node's shared pool, at an offset.
    const pooled = Buffer.concat([Buffer.from('x'), Buffer.from(file)]).subarray(1);
    expect(pooled.byteOffset).toBeGreaterThan(0);
    expect(readDicomHeader(pooled).dataset['00280010']?.Value).toEqual([2]);
  });
});

describe('a header longer than the prefix (patient tags after long private data)', () => {
  const far = dicomFile({
    dataset: dicomImage(EXPLICIT_LE, IMAGE, {
      before: [element(EXPLICIT_LE, 0x00091000, 'OB', new Uint8Array(70_000))],
    }),
  });

  it('is incomplete from the 64 KiB prefix (the patient tags missing), complete and read whole to DICOM_MAX_HEADER_BYTES', () => {
    const cut = readDicomHeader(far.subarray(0, DICOM_HEADER_PREFIX_BYTES));
    expect(cut.complete).toBe(false);
    expect(dicomTagsOf(cut).patientId).toBeUndefined();
    const whole = readDicomHeader(far.subarray(0, DICOM_MAX_HEADER_BYTES));
    expect(whole.complete).toBe(true);
    expect(dicomTagsOf(whole)).toMatchObject({ patientId: 'PAT-42', patientName: 'DOE^JANE' });
    expect(DICOM_MAX_HEADER_BYTES).toBe(1024 * 1024);
  });
});
