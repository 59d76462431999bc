// The part of the DICOM code that needs dcmjs (about 1 MB of JavaScript, several MB of memory once
// loaded): loaded on first use, through loadDicomReader (dicom-reader.load.ts), never at start.
// Only that loader imports this file; everything else about DICOM that needs no parsing
// (constants, types, firstString) is in dicom-header.ts and dicom-tags.ts.
import { data, log, type DcmjsDict } from './dcmjs.js';
import { DicomParseError, firstString, type DicomHeader } from './dicom-header.ts';
import { dicomTagsOf, type DicomTags } from './dicom-tags.ts';
import { DicomWalker } from './dicom-walker.ts';
import { FileStructureError } from './format-walker.ts';

const IMPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2';

// dcmjs writes to the console when it guesses a VR (an implicit-VR attribute the dictionary gives
// as "OB or OW"): harmless, and the servers' logs are JSON lines. Its other loggers stay as they are.
log.getLogger('validation.dcmjs').setLevel('silent');

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
 * Reads the tags the service records from a DICOM Part 10 file, or from its first bytes
 * (`DICOM_HEADER_PREFIX_BYTES` is enough for ordinary files), with dcmjs (readDicomHeader):
 * a value the prefix cuts off is left out, names in UTF-8 (ISO_IR 192) and the other
 * character sets are decoded. Throws `DicomParseError` when the bytes are not DICOM Part 10.
 */
export function extractDicomTags(bytes: Uint8Array): DicomTags {
  return dicomTagsOf(readDicomHeader(bytes));
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
