import type { DcmjsDict } from './dcmjs.js';
import type { DicomPixelDataPlace } from './dicom-walker.ts';

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
 * The first value of a string attribute (a person name as its alphabetic form), trimmed of blanks
 * and of the NULs some modalities pad with (dcmtk and Orthanc read `P-1001\0` as P-1001); undefined when empty.
 */
export function firstString(element: { Value?: unknown[] } | undefined): string | undefined {
  const v = element?.Value?.[0];
  if (typeof v === 'string') return unpadded(v).trim() || undefined;
  if (typeof v === 'number') return String(v);
  return undefined;
}

/** A value without the trailing NULs and blanks a writer padded it with (PS3.5 6.2 pads with a blank; some write NUL). */
export function unpadded(v: string): string {
  let end = v.length;
  while (end > 0 && (v[end - 1] === '\u0000' || /\s/u.test(v[end - 1] ?? ''))) end--;
  return v.slice(0, end);
}
