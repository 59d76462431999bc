import { describe, expect, it } from 'vitest';
import {
  CONTENT_SNIFF_BYTES,
  DICOM_HEADER_PREFIX_BYTES,
  DicomParseError,
  DicomTagsSchema,
  loadDicomReader,
  sniffContentType,
} from '../src/index.ts';

const { extractDicomTags } = await loadDicomReader();

// A tiny DICOM writer for these unit tests. @xray/testkit makes full-size files and checks
// them with dcmtk; it depends on this package, so this one does not depend on it.
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const IMPLICIT_LE = '1.2.840.10008.1.2';
const LONG_VRS = new Set(['OB', 'OW', 'SQ', 'UN', 'UT']);

type Element = [group: number, element: number, vr: string, value: Uint8Array];

function text(value: string, pad = ' '): Uint8Array {
  const bytes = new TextEncoder().encode(value);
  if (bytes.length % 2 === 0) return bytes;
  return Uint8Array.from([...bytes, pad.charCodeAt(0)]);
}
function uid(value: string): Uint8Array {
  return text(value, '\0');
}
function us(value: number): Uint8Array {
  return Uint8Array.of(value & 0xff, value >> 8);
}
function ul(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value, true);
  return bytes;
}

function encode([group, element, vr, value]: Element, explicit: boolean): Uint8Array {
  const long = LONG_VRS.has(vr);
  const header = new Uint8Array(explicit && !long ? 8 : explicit ? 12 : 8);
  const view = new DataView(header.buffer);
  view.setUint16(0, group, true);
  view.setUint16(2, element, true);
  if (!explicit) view.setUint32(4, value.length, true);
  else {
    header.set(new TextEncoder().encode(vr), 4);
    if (long) view.setUint32(8, value.length, true);
    else view.setUint16(6, value.length, true);
  }
  return concat([header, value]);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

const PATIENT: Element[] = [
  [0x0008, 0x0016, 'UI', uid('1.2.840.10008.5.1.4.1.1.1.1')],
  [0x0008, 0x0018, 'UI', uid('1.2.3.4.5.3')],
  [0x0008, 0x0020, 'DA', text('20260115')],
  [0x0008, 0x0060, 'CS', text('DX')],
  [0x0010, 0x0010, 'PN', text('DOE^JANE')],
  [0x0010, 0x0020, 'LO', text('PAT-42')],
  [0x0018, 0x0015, 'CS', text('CHEST')],
  [0x0018, 0x5101, 'CS', text('AP')],
  [0x0020, 0x000d, 'UI', uid('1.2.3.4.5.1')],
  [0x0020, 0x000e, 'UI', uid('1.2.3.4.5.2')],
  [0x0028, 0x0010, 'US', us(4)],
  [0x0028, 0x0011, 'US', us(6)],
  [0x0028, 0x0100, 'US', us(16)],
];
const EXPECTED_TAGS = {
  patientId: 'PAT-42',
  patientName: 'DOE^JANE',
  studyDate: '20260115',
  studyInstanceUid: '1.2.3.4.5.1',
  seriesInstanceUid: '1.2.3.4.5.2',
  sopInstanceUid: '1.2.3.4.5.3',
  modality: 'DX',
  bodyPartExamined: 'CHEST',
  viewPosition: 'AP',
  rows: 4,
  columns: 6,
  bitsAllocated: 16,
  transferSyntaxUid: EXPLICIT_LE,
};

function dicomFile(
  elements: Element[] = PATIENT,
  { transferSyntax = EXPLICIT_LE, pixelBytes = 4 * 6 * 2 } = {},
): Uint8Array {
  const explicitData = transferSyntax !== IMPLICIT_LE;
  const meta = concat(
    (
      [
        [0x0002, 0x0001, 'OB', Uint8Array.of(0, 1)],
        [0x0002, 0x0002, 'UI', uid('1.2.840.10008.5.1.4.1.1.1.1')],
        [0x0002, 0x0003, 'UI', uid('1.2.3.4.5.3')],
        [0x0002, 0x0010, 'UI', uid(transferSyntax)],
      ] satisfies Element[]
    ).map((element) => encode(element, true)),
  );
  const pixels = Uint8Array.from({ length: pixelBytes }, (_, i) => (i * 37) & 0xff);
  return concat([
    new Uint8Array(128),
    new TextEncoder().encode('DICM'),
    encode([0x0002, 0x0000, 'UL', ul(meta.length)], true),
    meta,
    ...elements.map((element) => encode(element, explicitData)),
    encode([0x7fe0, 0x0010, 'OW', pixels], explicitData),
  ]);
}

/** Offset of an element's tag in a file made by `dicomFile` (its value follows 8 or 12 bytes on). */
function elementOffset(file: Uint8Array, group: number, element: number): number {
  const needle = [group & 0xff, group >> 8, element & 0xff, element >> 8];
  for (let i = 132; i < file.length - 4; i++) {
    if (needle.every((byte, j) => file[i + j] === byte)) return i;
  }
  throw new Error('element not found');
}

describe('sniffContentType', () => {
  it('needs 132 bytes to see the DICOM magic', () => {
    expect(CONTENT_SNIFF_BYTES).toBe(132);
  });

  it('recognises DICOM Part 10 by "DICM" after the preamble', () => {
    const head = dicomFile().subarray(0, CONTENT_SNIFF_BYTES);
    expect(sniffContentType(head)).toBe('application/dicom');
  });

  it('recognises PNG and JPEG from their signatures', () => {
    expect(sniffContentType(Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13))).toBe(
      'image/png',
    );
    expect(sniffContentType(Uint8Array.of(0xff, 0xd8, 0xff, 0xe0, 0, 0x10))).toBe('image/jpeg');
  });

  it('rejects other content', () => {
    expect(sniffContentType(new TextEncoder().encode('%PDF-1.7\n%âãÏÓ\n1 0 obj'))).toBeNull();
    expect(sniffContentType(new Uint8Array(0))).toBeNull();
    expect(sniffContentType(new Uint8Array(200))).toBeNull();
    // "DICM" at the start is not Part 10, nor is a preamble cut short.
    expect(sniffContentType(new TextEncoder().encode('DICM'.padEnd(200, ' ')))).toBeNull();
    expect(sniffContentType(dicomFile().subarray(0, 131))).toBeNull();
    // A PNG signature with one byte wrong, and a bare FF D8.
    expect(sniffContentType(Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0b))).toBeNull();
    expect(sniffContentType(Uint8Array.of(0xff, 0xd8))).toBeNull();
  });
});

describe('extractDicomTags', () => {
  it('reads the recorded tags from a whole file', () => {
    const tags = extractDicomTags(dicomFile());
    expect(tags).toEqual(EXPECTED_TAGS);
    expect(DicomTagsSchema.parse(tags)).toEqual(tags);
  });

  it('reads them from a prefix that ends inside the pixel data', () => {
    const file = dicomFile(PATIENT, { pixelBytes: 200_000 });
    const prefix = file.subarray(0, elementOffset(file, 0x7fe0, 0x0010) + 12 + 10);
    expect(extractDicomTags(prefix)).toEqual(EXPECTED_TAGS);
  });

  it('reads them from a prefix that ends right before the pixel data', () => {
    const file = dicomFile();
    const prefix = file.subarray(0, elementOffset(file, 0x7fe0, 0x0010));
    expect(extractDicomTags(prefix)).toEqual(EXPECTED_TAGS);
  });

  it('omits tags a prefix cuts off, including one cut inside its value', () => {
    const file = dicomFile();
    const prefix = file.subarray(0, elementOffset(file, 0x0010, 0x0020) + 8 + 3); // inside "PAT-42"
    expect(extractDicomTags(prefix)).toEqual({
      patientName: 'DOE^JANE',
      studyDate: '20260115',
      sopInstanceUid: '1.2.3.4.5.3',
      modality: 'DX',
      transferSyntaxUid: EXPLICIT_LE,
    });
  });

  it('omits tags after a prefix that ends inside an element header', () => {
    const file = dicomFile();
    const prefix = file.subarray(0, elementOffset(file, 0x0010, 0x0020) + 5);
    expect(extractDicomTags(prefix)).toMatchObject({ patientName: 'DOE^JANE', transferSyntaxUid: EXPLICIT_LE });
    expect(extractDicomTags(prefix)).not.toHaveProperty('patientId');
    expect(extractDicomTags(prefix)).not.toHaveProperty('rows');
  });

  it('omits tags that are absent or empty', () => {
    const elements = PATIENT.filter(([group, element]) => !(group === 0x0018 && element === 0x5101)).map(
      ([group, element, vr, value]): Element =>
        group === 0x0010 && element === 0x0010 ? [group, element, vr, new Uint8Array(0)] : [group, element, vr, value],
    );
    const tags = extractDicomTags(dicomFile(elements));
    expect(tags).not.toHaveProperty('viewPosition');
    expect(tags).not.toHaveProperty('patientName');
    expect(tags.patientId).toBe('PAT-42');
  });

  it('reads IssuerOfPatientID (0010,0021), the authority that issued the PatientID', () => {
    const elements = PATIENT.flatMap((e): Element[] =>
      e[0] === 0x0010 && e[1] === 0x0020 ? [e, [0x0010, 0x0021, 'LO', text('CLINIC-B')]] : [e],
    );
    const tags = extractDicomTags(dicomFile(elements));
    expect(tags).toEqual({ ...EXPECTED_TAGS, issuerOfPatientId: 'CLINIC-B' });
    expect(DicomTagsSchema.parse(tags)).toEqual(tags);
    // Absent (as in every file before): not there at all, and a row without it still parses.
    expect(extractDicomTags(dicomFile())).not.toHaveProperty('issuerOfPatientId');
  });

  it('reads Implicit VR Little Endian files', () => {
    expect(extractDicomTags(dicomFile(PATIENT, { transferSyntax: IMPLICIT_LE }))).toEqual({
      ...EXPECTED_TAGS,
      transferSyntaxUid: IMPLICIT_LE,
    });
  });

  it('decodes UTF-8 names when the file declares ISO_IR 192', () => {
    const elements: Element[] = [
      [0x0008, 0x0005, 'CS', text('ISO_IR 192')],
      ...PATIENT.map(([group, element, vr, value]): Element =>
        group === 0x0010 && element === 0x0010
          ? [group, element, vr, text('Müller^Jörg')]
          : [group, element, vr, value],
      ),
    ];
    expect(extractDicomTags(dicomFile(elements)).patientName).toBe('Müller^Jörg');
  });

  it('throws DicomParseError with a code for bytes that are not DICOM Part 10', () => {
    const notDicom = [
      new TextEncoder().encode('%PDF-1.7\n'.padEnd(1000, 'x')),
      new Uint8Array(10),
      dicomFile().subarray(0, 140), // the meta header is cut short
    ];
    for (const bytes of notDicom) {
      let thrown: unknown;
      try {
        extractDicomTags(bytes);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(DicomParseError);
      expect(thrown).toMatchObject({ code: 'DICOM_UNPARSABLE', name: 'DicomParseError' });
    }
  });

  it('suggests a prefix that holds an ordinary header many times over', () => {
    expect(DICOM_HEADER_PREFIX_BYTES).toBe(64 * 1024);
    expect(dicomFile().length - 4 * 6 * 2).toBeLessThan(DICOM_HEADER_PREFIX_BYTES / 16);
  });
});

describe('DicomTagsSchema', () => {
  it('rejects values of the wrong type', () => {
    expect(DicomTagsSchema.safeParse({ rows: '3000' }).success).toBe(false);
    expect(DicomTagsSchema.safeParse({ patientId: 42 }).success).toBe(false);
    expect(DicomTagsSchema.safeParse({}).success).toBe(true);
  });
});
