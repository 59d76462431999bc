import dicomParser from 'dicom-parser';
import type { DataSet } from 'dicom-parser';
import { z } from 'zod';

/**
 * How much of a DICOM file to read for its tags. The header of a projection X-ray is a few
 * KiB; 64 KiB leaves room for long private sequences while staying small next to 18 MB of
 * pixels. Extraction tolerates a prefix that ends before or inside the pixel data.
 */
export const DICOM_HEADER_PREFIX_BYTES = 64 * 1024;

/** The tags the service records from a DICOM file; tags absent from the file are omitted. */
export const DicomTagsSchema = z.object({
  patientId: z.string().optional(),
  patientName: z.string().optional(),
  patientBirthDate: z.string().optional(),
  patientSex: z.string().optional(),
  studyDate: z.string().optional(),
  studyInstanceUid: z.string().optional(),
  seriesInstanceUid: z.string().optional(),
  sopInstanceUid: z.string().optional(),
  modality: z.string().optional(),
  bodyPartExamined: z.string().optional(),
  viewPosition: z.string().optional(),
  rows: z.number().int().nonnegative().optional(),
  columns: z.number().int().nonnegative().optional(),
  bitsAllocated: z.number().int().nonnegative().optional(),
  transferSyntaxUid: z.string().optional(),
});
export type DicomTags = z.infer<typeof DicomTagsSchema>;

export type DicomParseErrorCode = 'DICOM_UNPARSABLE';

/** The bytes are not a DICOM Part 10 file dicom-parser can read (no "DICM", broken meta header). */
export class DicomParseError extends Error {
  readonly code: DicomParseErrorCode = 'DICOM_UNPARSABLE';
  override readonly name = 'DicomParseError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

const PIXEL_DATA_TAG = 'x7fe00010';

type StringTagKey = Exclude<keyof DicomTags, 'rows' | 'columns' | 'bitsAllocated'>;
type UsTagKey = 'rows' | 'columns' | 'bitsAllocated';

const STRING_TAGS: Readonly<Record<StringTagKey, string>> = {
  patientId: 'x00100020',
  patientName: 'x00100010',
  patientBirthDate: 'x00100030',
  patientSex: 'x00100040',
  studyDate: 'x00080020',
  studyInstanceUid: 'x0020000d',
  seriesInstanceUid: 'x0020000e',
  sopInstanceUid: 'x00080018',
  modality: 'x00080060',
  bodyPartExamined: 'x00180015',
  viewPosition: 'x00185101',
  transferSyntaxUid: 'x00020010',
};
const STRING_TAG_KEYS: readonly StringTagKey[] = [
  'patientId',
  'patientName',
  'patientBirthDate',
  'patientSex',
  'studyDate',
  'studyInstanceUid',
  'seriesInstanceUid',
  'sopInstanceUid',
  'modality',
  'bodyPartExamined',
  'viewPosition',
  'transferSyntaxUid',
];

const US_TAGS: Readonly<Record<UsTagKey, string>> = {
  rows: 'x00280010',
  columns: 'x00280011',
  bitsAllocated: 'x00280100',
};
const US_TAG_KEYS: readonly UsTagKey[] = ['rows', 'columns', 'bitsAllocated'];

const SPECIFIC_CHARACTER_SET_TAG = 'x00080005';

/** dicom-parser throws `{ exception, dataSet }` when the data set stops parsing part way. */
interface PartialParse {
  exception: unknown;
  dataSet: DataSet;
}

function isPartialParse(error: unknown): error is PartialParse {
  if (typeof error !== 'object' || error === null) return false;
  if (!('exception' in error) || !('dataSet' in error)) return false;
  const dataSet = error.dataSet;
  return typeof dataSet === 'object' && dataSet !== null && 'elements' in dataSet;
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'string') return error;
  if (isPartialParse(error)) return describe(error.exception);
  return 'unknown error';
}

/** True when the element's value lies inside the bytes we were given (a prefix may cut it). */
function hasCompleteValue(dataSet: DataSet, tag: string): boolean {
  const element = dataSet.elements[tag];
  if (element === undefined || element.length === 0) return false;
  return element.dataOffset + element.length <= dataSet.byteArray.length;
}

function parse(bytes: Uint8Array): DataSet {
  try {
    return dicomParser.parseDicom(bytes, { untilTag: PIXEL_DATA_TAG });
  } catch (error) {
    // The meta header parsed but the data set ran off the end of a prefix (or is damaged
    // after some point): keep the elements read so far, complete values only.
    if (isPartialParse(error)) {
      // parseDicom merges the meta header (transfer syntax) only on success: add it back.
      const meta = dicomParser.readPart10Header(bytes);
      Object.assign(error.dataSet.elements, meta.elements);
      return error.dataSet;
    }
    throw new DicomParseError(`not a readable DICOM Part 10 file: ${describe(error)}`, {
      cause: error,
    });
  }
}

/**
 * Decodes a string value. dicom-parser reads bytes as Latin-1; files that declare UTF-8
 * (Specific Character Set ISO_IR 192) would come out garbled, so decode the bytes here.
 */
function stringValue(dataSet: DataSet, tag: string, decoder: TextDecoder): string | undefined {
  const element = dataSet.elements[tag];
  if (element === undefined || !hasCompleteValue(dataSet, tag)) return undefined;
  const raw = dataSet.byteArray.subarray(element.dataOffset, element.dataOffset + element.length);
  // Values are padded to even length with a space (or NUL for UIs).
  const value = decoder
    .decode(raw)
    .replace(/[\0 ]+$/u, '')
    .replace(/^ +/u, '');
  return value === '' ? undefined : value;
}

function decoderFor(dataSet: DataSet): TextDecoder {
  const charset = hasCompleteValue(dataSet, SPECIFIC_CHARACTER_SET_TAG)
    ? dataSet.string(SPECIFIC_CHARACTER_SET_TAG)
    : undefined;
  // Other character sets (ISO 2022 escapes) are rare in X-ray headers: read them as Latin-1.
  return new TextDecoder(charset?.includes('ISO_IR 192') ? 'utf-8' : 'latin1');
}

/**
 * Reads the tags the service records from a DICOM Part 10 file, or from its first bytes
 * (`DICOM_HEADER_PREFIX_BYTES` is enough for ordinary files). Parsing stops at the pixel
 * data. Throws `DicomParseError` when the bytes are not DICOM Part 10.
 */
export function extractDicomTags(bytes: Uint8Array): DicomTags {
  const dataSet = parse(bytes);
  const decoder = decoderFor(dataSet);
  const tags: DicomTags = {};
  for (const key of STRING_TAG_KEYS) {
    const value = stringValue(dataSet, STRING_TAGS[key], decoder);
    if (value !== undefined) tags[key] = value;
  }
  for (const key of US_TAG_KEYS) {
    const tag = US_TAGS[key];
    if (!hasCompleteValue(dataSet, tag)) continue;
    const value = dataSet.uint16(tag);
    if (value !== undefined) tags[key] = value;
  }
  return tags;
}
