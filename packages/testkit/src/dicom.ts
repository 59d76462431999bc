import { createHash } from 'node:crypto';
import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import type { DicomTags } from '@xray/shared';
import { hannProfile, Xoshiro128 } from './prng.ts';

/** Digital X-Ray Image Storage – For Presentation. */
export const DX_FOR_PRESENTATION_SOP_CLASS_UID = '1.2.840.10008.5.1.4.1.1.1.1';
export const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
/** Identifies files written by this kit (a 2.25 UUID-derived root). */
export const TESTKIT_IMPLEMENTATION_CLASS_UID = uuidUid('xray-testkit implementation');
const IMPLEMENTATION_VERSION_NAME = 'XRAY_TESTKIT_1';

export interface DicomOptions {
  /** Default 3000 (with 3000 columns: 18 MB of pixels, a chest DR image). */
  rows?: number;
  columns?: number;
  patientId?: string;
  /** IssuerOfPatientID (0010,0021, LO): who issued the PatientID; written only when given. */
  issuerOfPatientId?: string;
  patientName?: string;
  /** PatientBirthDate (DA, YYYYMMDD); written only when given. */
  patientBirthDate?: string;
  /** PatientSex (CS: M, F, O); written only when given. */
  patientSex?: string;
  /** DICOM Body Part Examined code, default CHEST. */
  bodyPart?: string;
  /** DICOM View Position, default PA. */
  view?: string;
  /** YYYYMMDD, default 20260115. */
  studyDate?: string;
  /** Varies the pixels and the UIDs; the same options always give the same bytes. */
  seed?: number;
  /** Derived from the options when not given; set them to put several images in one study. */
  studyInstanceUid?: string;
  seriesInstanceUid?: string;
  sopInstanceUid?: string;
  /**
   * Bytes of private vendor data (0009,1000 OB, with its creator 0009,0010) written before the
   * patient's group, as some modalities do: puts the patient tags that far into the file.
   */
  privateDataBytes?: number;
  /**
   * NumberOfFrames (0028,0008): a multi-frame image of this many frames, each its own pixels
   * (frame k at (k-1) × rows × columns × 2 bytes into the pixel data). Written only when given.
   */
  frames?: number;
}

/** The options with defaults filled in: what the file says. */
export interface ResolvedDicomOptions {
  rows: number;
  columns: number;
  patientId: string;
  issuerOfPatientId?: string;
  patientName: string;
  patientBirthDate?: string;
  patientSex?: string;
  bodyPart: string;
  view: string;
  studyDate: string;
  seed: number;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
  privateDataBytes?: number;
  frames?: number;
}

export interface WrittenDicom {
  path: string;
  /** Bytes in the file. */
  size: number;
  /** Lowercase hex SHA-256 of the file. */
  sha256: string;
  /** The tags as `extractDicomTags` should read them back. */
  tags: DicomTags;
}

/** Pixel bytes per yielded chunk (about; whole rows). Keeps memory flat for any image size. */
const CHUNK_TARGET_BYTES = 1024 * 1024;
const MAX_DIMENSION = 0xffff; // Rows and Columns are US

export function resolveDicomOptions(options: DicomOptions = {}): ResolvedDicomOptions {
  const rows = options.rows ?? 3000;
  const columns = options.columns ?? 3000;
  for (const [name, value] of [
    ['rows', rows],
    ['columns', columns],
  ] as const) {
    if (!Number.isInteger(value) || value < 1 || value > MAX_DIMENSION) {
      throw new RangeError(`${name} must be an integer from 1 to ${MAX_DIMENSION}, got ${value}`);
    }
  }
  const frames = options.frames;
  if (frames !== undefined && (!Number.isInteger(frames) || frames < 1 || frames > 0xffff))
    throw new RangeError(`frames must be an integer from 1 to ${0xffff}, got ${frames}`);
  if (rows * columns * 2 * (frames ?? 1) > 0xfffffffe) throw new RangeError('pixel data would exceed 4 GiB');
  const base = {
    rows,
    columns,
    patientId: options.patientId ?? 'PAT-0001',
    issuerOfPatientId: options.issuerOfPatientId,
    patientName: options.patientName ?? 'TEST^PATIENT',
    patientBirthDate: options.patientBirthDate,
    patientSex: options.patientSex,
    bodyPart: options.bodyPart ?? 'CHEST',
    view: options.view ?? 'PA',
    studyDate: options.studyDate ?? '20260115',
    seed: options.seed ?? 1,
    privateDataBytes: options.privateDataBytes,
    frames,
  };
  if (!/^\d{8}$/.test(base.studyDate)) throw new RangeError('studyDate must be YYYYMMDD');
  for (const [name, value] of [
    ['bodyPart', base.bodyPart],
    ['view', base.view],
  ] as const) {
    if (!/^[A-Z0-9_ ]{1,16}$/.test(value)) throw new RangeError(`${name} must be a DICOM code string`);
  }
  if (base.patientId.length > 64) throw new RangeError('patientId must be at most 64 characters');
  const p = base.privateDataBytes;
  if (p !== undefined && (!Number.isInteger(p) || p < 0 || p % 2 !== 0 || p > 0xfffffffe))
    throw new RangeError('privateDataBytes must be an even number of bytes');
  const identity = JSON.stringify(base);
  return {
    ...base,
    studyInstanceUid: options.studyInstanceUid ?? uuidUid(`${identity} study`),
    seriesInstanceUid: options.seriesInstanceUid ?? uuidUid(`${identity} series`),
    sopInstanceUid: options.sopInstanceUid ?? uuidUid(`${identity} instance`),
  };
}

/** The tags of a file made with these options, as `extractDicomTags` reads them. */
export function dicomTagsFor(options: DicomOptions = {}): DicomTags {
  const o = resolveDicomOptions(options);
  return {
    patientId: o.patientId,
    ...(o.issuerOfPatientId ? { issuerOfPatientId: o.issuerOfPatientId } : {}),
    patientName: o.patientName,
    ...(o.patientBirthDate ? { patientBirthDate: o.patientBirthDate } : {}),
    ...(o.patientSex ? { patientSex: o.patientSex } : {}),
    studyDate: o.studyDate,
    studyInstanceUid: o.studyInstanceUid,
    seriesInstanceUid: o.seriesInstanceUid,
    sopInstanceUid: o.sopInstanceUid,
    modality: 'DX',
    bodyPartExamined: o.bodyPart,
    viewPosition: o.view,
    rows: o.rows,
    columns: o.columns,
    bitsAllocated: 16,
    transferSyntaxUid: EXPLICIT_VR_LITTLE_ENDIAN,
  };
}

/** Exact size in bytes of the file these options make. */
export function dicomSize(options: DicomOptions = {}): number {
  const o = resolveDicomOptions(options);
  return dicomHeader(o).length + pixelDataLength(o);
}

/** Square dimensions whose file is at least `bytes` long (for "a 200 MB DICOM"). */
export function dicomDimensionsForSize(bytes: number): { rows: number; columns: number } {
  const side = Math.max(1, Math.ceil(Math.sqrt(bytes / 2)));
  if (side > MAX_DIMENSION) throw new RangeError(`${bytes} bytes needs more than ${MAX_DIMENSION} rows`);
  return { rows: side, columns: side };
}

/**
 * The file as a sequence of chunks: first the preamble and header, then the pixel data a
 * few rows at a time. Each chunk is a new buffer, so consumers may keep them.
 */
export function* dicomChunks(options: DicomOptions = {}): Generator<Uint8Array, void, undefined> {
  const o = resolveDicomOptions(options);
  yield dicomHeader(o);
  const random = new Xoshiro128(`pixels ${JSON.stringify(o)}`);
  const rowProfile = hannProfile(o.rows);
  const columnProfile = hannProfile(o.columns);
  const rowBytes = o.columns * 2;
  const rowsPerChunk = Math.max(1, Math.floor(CHUNK_TARGET_BYTES / rowBytes));
  // Each frame the same field with its own noise: rows of every frame, one after the other.
  const allRows = o.rows * (o.frames ?? 1);
  for (let firstRow = 0; firstRow < allRows; firstRow += rowsPerChunk) {
    const chunkRows = Math.min(rowsPerChunk, allRows - firstRow);
    const chunk = Buffer.allocUnsafe(chunkRows * rowBytes);
    let offset = 0;
    for (let row = firstRow; row < firstRow + chunkRows; row++) {
      const rowWeight = 2048 * (rowProfile[row % o.rows] ?? 0);
      for (let column = 0; column < o.columns; column++) {
        // A smooth 512..2560 field plus 10 bits of noise: stays within BitsStored 12.
        const value = 512 + ((rowWeight * (columnProfile[column] ?? 0)) | 0) + (random.next() >>> 22);
        chunk[offset++] = value & 0xff;
        chunk[offset++] = value >>> 8;
      }
    }
    yield chunk;
  }
}

/** The file as a Node stream, e.g. for an HTTP request body. */
export function dicomStream(options: DicomOptions = {}): Readable {
  return Readable.from(dicomChunks(options), { objectMode: false });
}

/** The whole file in memory: for small images only (use `writeDicom` for big ones). */
export function makeDicom(options: DicomOptions = {}): Buffer {
  return Buffer.concat([...dicomChunks(options)]);
}

/**
 * Writes the file chunk by chunk (memory stays at about a megabyte whatever its size) and
 * hashes it on the way. Creates the parent directory.
 */
export async function writeDicom(path: string, options: DicomOptions = {}): Promise<WrittenDicom> {
  await mkdir(dirname(path), { recursive: true });
  const hash = createHash('sha256');
  let size = 0;
  const file = await open(path, 'w');
  try {
    for (const chunk of dicomChunks(options)) {
      hash.update(chunk);
      size += chunk.length;
      await file.write(chunk);
    }
  } finally {
    await file.close();
  }
  return { path, size, sha256: hash.digest('hex'), tags: dicomTagsFor(options) };
}

// --- encoding ---------------------------------------------------------------------------

type Vr = 'UL' | 'OB' | 'UI' | 'SH' | 'DA' | 'CS' | 'PN' | 'LO' | 'US' | 'OW' | 'IS';
/** VRs with a 2-byte reserved field and a 4-byte length in Explicit VR. */
const LONG_LENGTH_VRS: ReadonlySet<Vr> = new Set(['OB', 'OW']);

function pixelDataLength(o: ResolvedDicomOptions): number {
  return o.rows * o.columns * 2 * (o.frames ?? 1);
}

function elementHeader(group: number, element: number, vr: Vr, length: number): Buffer {
  const long = LONG_LENGTH_VRS.has(vr);
  const header = Buffer.alloc(long ? 12 : 8);
  header.writeUInt16LE(group, 0);
  header.writeUInt16LE(element, 2);
  header.write(vr, 4, 'latin1');
  if (long) header.writeUInt32LE(length, 8);
  else header.writeUInt16LE(length, 6);
  return header;
}

function binaryElement(group: number, element: number, vr: Vr, value: Buffer): Buffer {
  return Buffer.concat([elementHeader(group, element, vr, value.length), value]);
}

function stringElement(group: number, element: number, vr: Vr, text: string): Buffer {
  let value = Buffer.from(text, 'utf8');
  // Values have even length: UIs are padded with NUL, other strings with a space.
  if (value.length % 2 === 1) value = Buffer.concat([value, Buffer.from(vr === 'UI' ? [0] : [0x20])]);
  if (value.length > 0xffff) throw new RangeError(`value of (${group},${element}) is too long`);
  return binaryElement(group, element, vr, value);
}

function usElement(group: number, element: number, value: number): Buffer {
  const bytes = Buffer.alloc(2);
  bytes.writeUInt16LE(value, 0);
  return binaryElement(group, element, 'US', bytes);
}

function dicomHeader(o: ResolvedDicomOptions): Buffer {
  const meta = Buffer.concat([
    binaryElement(0x0002, 0x0001, 'OB', Buffer.from([0x00, 0x01])),
    stringElement(0x0002, 0x0002, 'UI', DX_FOR_PRESENTATION_SOP_CLASS_UID),
    stringElement(0x0002, 0x0003, 'UI', o.sopInstanceUid),
    stringElement(0x0002, 0x0010, 'UI', EXPLICIT_VR_LITTLE_ENDIAN),
    stringElement(0x0002, 0x0012, 'UI', TESTKIT_IMPLEMENTATION_CLASS_UID),
    stringElement(0x0002, 0x0013, 'SH', IMPLEMENTATION_VERSION_NAME),
  ]);
  const groupLength = Buffer.alloc(4);
  groupLength.writeUInt32LE(meta.length, 0);
  const needsUtf8 = [o.patientName, o.patientId].some((text) => Buffer.byteLength(text) !== text.length);
  const dataset = [
    ...(needsUtf8 ? [stringElement(0x0008, 0x0005, 'CS', 'ISO_IR 192')] : []),
    stringElement(0x0008, 0x0016, 'UI', DX_FOR_PRESENTATION_SOP_CLASS_UID),
    stringElement(0x0008, 0x0018, 'UI', o.sopInstanceUid),
    stringElement(0x0008, 0x0020, 'DA', o.studyDate),
    stringElement(0x0008, 0x0060, 'CS', 'DX'),
    stringElement(0x0008, 0x0068, 'CS', 'FOR PRESENTATION'),
    ...(o.privateDataBytes !== undefined
      ? [
          stringElement(0x0009, 0x0010, 'LO', 'TESTKIT VENDOR'),
          binaryElement(0x0009, 0x1000, 'OB', Buffer.alloc(o.privateDataBytes, 0x5a)),
        ]
      : []),
    stringElement(0x0010, 0x0010, 'PN', o.patientName),
    stringElement(0x0010, 0x0020, 'LO', o.patientId),
    ...(o.issuerOfPatientId !== undefined ? [stringElement(0x0010, 0x0021, 'LO', o.issuerOfPatientId)] : []),
    ...(o.patientBirthDate !== undefined ? [stringElement(0x0010, 0x0030, 'DA', o.patientBirthDate)] : []),
    ...(o.patientSex !== undefined ? [stringElement(0x0010, 0x0040, 'CS', o.patientSex)] : []),
    stringElement(0x0018, 0x0015, 'CS', o.bodyPart),
    stringElement(0x0018, 0x5101, 'CS', o.view),
    stringElement(0x0020, 0x000d, 'UI', o.studyInstanceUid),
    stringElement(0x0020, 0x000e, 'UI', o.seriesInstanceUid),
    usElement(0x0028, 0x0002, 1),
    stringElement(0x0028, 0x0004, 'CS', 'MONOCHROME2'),
    ...(o.frames !== undefined ? [stringElement(0x0028, 0x0008, 'IS', String(o.frames))] : []),
    usElement(0x0028, 0x0010, o.rows),
    usElement(0x0028, 0x0011, o.columns),
    usElement(0x0028, 0x0100, 16),
    usElement(0x0028, 0x0101, 12),
    usElement(0x0028, 0x0102, 11),
    usElement(0x0028, 0x0103, 0),
    elementHeader(0x7fe0, 0x0010, 'OW', pixelDataLength(o)),
  ];
  return Buffer.concat([
    Buffer.alloc(128),
    Buffer.from('DICM', 'latin1'),
    binaryElement(0x0002, 0x0000, 'UL', groupLength),
    meta,
    ...dataset,
  ]);
}

/** A UID under 2.25 (UUID-derived, ITU-T X.667) from 128 bits of a hash: unique, no org root needed. */
function uuidUid(seed: string): string {
  const hex = createHash('sha256').update(seed).digest('hex').slice(0, 32);
  return `2.25.${BigInt(`0x${hex}`).toString(10)}`;
}
