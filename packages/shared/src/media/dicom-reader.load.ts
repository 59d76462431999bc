import type { DicomHeader } from './dicom-header.ts';
import type { DicomTags } from './dicom-tags.ts';

/**
 * What needs dcmjs: reading a DICOM header, and its dictionary (dicom-reader.ts has the
 * implementations). Synchronous once loaded: loadDicomReader gives it.
 */
export interface DicomReader {
  /**
   * A DICOM Part 10 header, from the whole file or its first bytes (`DICOM_HEADER_PREFIX_BYTES` is
   * enough for ordinary files). Throws `DicomParseError` when the bytes are not DICOM Part 10.
   */
  readDicomHeader(bytes: Uint8Array): DicomHeader;
  /** The tags the service records (dicomTagsOf of readDicomHeader). Throws `DicomParseError` as it does. */
  extractDicomTags(bytes: Uint8Array): DicomTags;
  /** The tag of a DICOM keyword (`PatientName` → `00100010`), or undefined for a keyword the dictionary does not know. */
  dicomTagOfKeyword(keyword: string): string | undefined;
  /** The dictionary's VR of a tag (`00100010` → `PN`), or undefined. */
  dicomVrOf(tag: string): string | undefined;
}

let loading: Promise<DicomReader> | undefined;

/**
 * The DICOM reader, dcmjs loaded on first use: a server starts, and the edge app opens, without
 * it (several MB of memory, a large part of the app's download); the first DICOM file loads it,
 * every later call gets the same one. The bundlers make the import a chunk of its own (the edge
 * app's service worker precaches it for offline use). A failed load (the chunk not reachable) is
 * not kept: the next call tries again.
 */
export function loadDicomReader(): Promise<DicomReader> {
  loading ??= import('./dicom-reader.ts').then(
    (reader): DicomReader => reader,
    (err: unknown) => {
      loading = undefined;
      throw err;
    },
  );
  return loading;
}
