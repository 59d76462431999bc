import { data, log, type DcmjsDict } from './dcmjs.js';
import { DicomWalker, type DicomPixelDataPlace } from './dicom-walker.ts';
import { FileStructureError } from './format-walker.ts';

/**
 * How much of a DICOM file to read for its header. The header of a projection X-ray is a few
 * KiB; 64 KiB leaves room for long private sequences while staying small next to 18 MB of
 * pixels. Reading tolerates a prefix that ends before or inside the pixel data.
 */
export const DICOM_HEADER_PREFIX_BYTES = 64 * 1024;

/**
 * The most bytes before the pixel data a DICOM file may have. Patient tags past a prefix would go
 * unread (and unchecked), so a header is read whole up to its pixel data, never cut: a header
 * longer than this (a projection X-ray's is a few KiB) is refused, keeping memory per upload bounded.
 */
export const DICOM_MAX_HEADER_BYTES = 1024 * 1024;

/** Why such a file is refused, as a clause to follow "The DICOM file" (server and edge alike). */
export const DICOM_HEADER_TOO_LONG =
  'has more than 1 MiB of header data before its image (far more than an X-ray has), so its patient details cannot be checked; export it again without the extra private data';

const IMPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2';

// dcmjs writes to the console when it guesses a VR (an implicit-VR attribute the dictionary gives
// as "OB or OW"): harmless, and the servers' logs are JSON lines. Its other loggers stay as they are.
log.getLogger('validation.dcmjs').setLevel('silent');

export type DicomParseErrorCode = 'DICOM_UNPARSABLE';

/** The bytes are not a DICOM Part 10 file that can be read (no "DICM", broken meta header). */
export class DicomParseError extends Error {
  readonly code: DicomParseErrorCode = 'DICOM_UNPARSABLE';
  override readonly name = 'DicomParseError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A DICOM header as dcmjs decodes it: attributes keyed by tag (`00100010`), in the DICOM JSON shape. */
export interface DicomHeader {
  /** The file meta group (0002). */
  meta: DcmjsDict;
  /** The data set's attributes before the pixel data (whole values only). */
  dataset: DcmjsDict;
  /** Where the pixel data starts, when the bytes reached it, and its VR (OB or OW). */
  pixelData: (DicomPixelDataPlace & { vr: string }) | undefined;
  /**
   * Every attribute before the pixel data is here. False when the bytes ended first (a header
   * longer than the prefix read): the attributes past the cut are missing.
   */
  complete: boolean;
}

/**
 * Reads a DICOM Part 10 header — the whole file or its first bytes (`DICOM_HEADER_PREFIX_BYTES`
 * is enough for ordinary files) — with dcmjs, the one DICOM library of server and edge. Throws
 * `DicomParseError` when the bytes are not DICOM Part 10.
 *
 * dcmjs decodes; the structure walker (DicomWalker) first says how many leading bytes are whole
 * elements. dcmjs reads a value cut off by the end of a prefix as if it were whole (a patient
 * name shortened to "Mül"), and it cannot judge a file while it streams: the walker validates
 * every upload byte by byte as it arrives, this only decodes the header it buffered.
 */
export function readDicomHeader(bytes: Uint8Array): DicomHeader {
  const walker = new DicomWalker();
  let refusal: FileStructureError | undefined;
  try {
    walker.update(bytes);
  } catch (err) {
    if (!(err instanceof FileStructureError)) throw err;
    // Judging the file is the walker's job where it is checked whole; here only the whole
    // elements before the refusal are decoded (none when it is not DICOM at all).
    refusal = err;
  }
  const pixelData = walker.pixelData;
  const cut = Math.min(walker.completeThrough, pixelData?.start ?? Infinity);
  if (cut <= 132) {
    throw new DicomParseError(`not a readable DICOM Part 10 file: ${refusal?.message ?? 'no whole element'}`, {
      cause: refusal,
    });
  }
  let parsed: { meta: DcmjsDict; dict: DcmjsDict };
  try {
    // A copy of exactly those bytes (a Node Buffer's slice would share, and hand over, its pool).
    parsed = data.DicomMessage.readFile(new Uint8Array(bytes.subarray(0, cut)).buffer);
  } catch (err) {
    throw new DicomParseError(
      `not a readable DICOM Part 10 file: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  if (firstString(parsed.meta['00020010']) === undefined)
    throw new DicomParseError('not a readable DICOM Part 10 file: the file meta group names no transfer syntax');
  const implicit = firstString(parsed.meta['00020010']) === IMPLICIT_VR_LITTLE_ENDIAN;
  const vr =
    pixelData && !implicit ? String.fromCharCode(bytes[pixelData.start + 4]!, bytes[pixelData.start + 5]!) : 'OW';
  return {
    meta: parsed.meta,
    dataset: parsed.dict,
    pixelData: pixelData && { ...pixelData, vr },
    complete: pixelData !== undefined,
  };
}

/**
 * The first value of a string attribute (a person name as its alphabetic form), trimmed of blanks
 * and of the NULs some modalities pad with (dcmtk and Orthanc read `P-1001\0` as P-1001); undefined when empty.
 */
export function firstString(element: { Value?: unknown[] } | undefined): string | undefined {
  const v = element?.Value?.[0];
  if (typeof v === 'string') return unpadded(v).trim() || undefined;
  if (typeof v === 'number') return String(v);
  return undefined;
}

/** The tag of a DICOM keyword (`PatientName` → `00100010`), or undefined for a keyword the dictionary does not know. */
export function dicomTagOfKeyword(keyword: string): string | undefined {
  // (The dictionary is an object that may be loaded lazily: an entry is proven by its own name.)
  const entry = data.DicomMetaDictionary.nameMap[keyword];
  if (entry?.name !== keyword || typeof entry.tag !== 'string') return undefined;
  const tag = entry.tag.replace(/[(),]/g, '').toUpperCase();
  return /^[0-9A-F]{8}$/.test(tag) ? tag : undefined;
}

/** The dictionary's VR of a tag (`00100010` → `PN`), or undefined. */
export function dicomVrOf(tag: string): string | undefined {
  if (!/^[0-9A-Fa-f]{8}$/.test(tag)) return undefined;
  return data.DicomMetaDictionary.dictionary[`(${tag.slice(0, 4)},${tag.slice(4)})`.toUpperCase()]?.vr;
}

/** A value without the trailing NULs and blanks a writer padded it with (PS3.5 6.2 pads with a blank; some write NUL). */
export function unpadded(v: string): string {
  let end = v.length;
  while (end > 0 && (v[end - 1] === '\u0000' || /\s/u.test(v[end - 1] ?? ''))) end--;
  return v.slice(0, end);
}
