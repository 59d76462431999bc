export { CONTENT_SNIFF_BYTES, sniffContentType } from './content-type.ts';
export {
  DICOM_HEADER_PREFIX_BYTES,
  DICOM_HEADER_TOO_LONG,
  DICOM_MAX_HEADER_BYTES,
  DicomParseError,
  DicomTagsSchema,
  dicomTagsOf,
  stringOf as dicomStringOf,
} from './dicom-tags.ts';
export type { DicomParseErrorCode, DicomTags } from './dicom-tags.ts';
export { firstString } from './dicom-header.ts';
export type { DicomHeader } from './dicom-header.ts';
// What needs dcmjs is loaded on first use (never imported from here): loadDicomReader.
export { loadDicomReader } from './dicom-reader.load.ts';
export type { DicomReader } from './dicom-reader.load.ts';
export { toDicomJson } from './dicom-json.ts';
export type { DicomJsonAttribute, DicomJsonDataset } from './dicom-json.ts';
export type { DcmjsDict, DcmjsElement } from './dcmjs.js';
export { crc32 } from './crc32.ts';
export type { Crc32 } from './crc32.ts';
export { FileStructureError, MAX_IMAGE_SIDE } from './format-walker.ts';
export type { FileStructureErrorCode, FileStructureErrorKind, FormatWalker } from './format-walker.ts';
export { DicomWalker, judgePreamble } from './dicom-walker.ts';
export type { DicomPixelDataPlace } from './dicom-walker.ts';
export { JpegWalker } from './jpeg-walker.ts';
export { PngWalker } from './png-walker.ts';
export { checkFileStructure, formatWalkerFor } from './structure-check.ts';
export type { FormatWalkerOptions } from './structure-check.ts';
