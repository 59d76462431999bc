export { CONTENT_SNIFF_BYTES, sniffContentType } from './content-type.ts';
export { DICOM_HEADER_PREFIX_BYTES, DicomParseError, DicomTagsSchema, extractDicomTags } from './dicom-tags.ts';
export type { DicomParseErrorCode, DicomTags } from './dicom-tags.ts';
