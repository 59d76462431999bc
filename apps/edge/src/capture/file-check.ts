import {
  CONTENT_SNIFF_BYTES,
  DICOM_HEADER_PREFIX_BYTES,
  DICOM_HEADER_TOO_LONG,
  DICOM_MAX_HEADER_BYTES,
  dicomTagsOf,
  FileStructureError,
  formatWalkerFor,
  loadDicomReader,
  sniffContentType,
  type ContentType,
  type DicomTags,
} from '@xray/shared';

export type FileProblemCode = 'too_large' | 'unsupported_type' | 'empty' | 'invalid_content';

/** A file the app will not capture, and why, in words for the person holding it. */
export interface FileProblem {
  code: FileProblemCode;
  message: string;
}

/** What a file's first bytes say: its real type and, for DICOM, its tags or why they could not be read. */
export interface FileHead {
  contentType: ContentType;
  dicom?: DicomTags;
  /** The DICOM header could not be read: why (the X-ray can still be captured, its form filled by hand). */
  dicomError?: string;
  /** The DICOM header runs past DICOM_MAX_HEADER_BYTES: the server refuses such a file. */
  headerTooLong?: true;
}

export type FileCheck = ({ ok: true; dicomWarning?: string } & FileHead) | { ok: false; problem: FileProblem };

/** 1.5 GB, 18.4 MB, 950 kB: sizes as people read them (decimal units). */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} bytes`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = -1;
  do {
    v /= 1000;
    i++;
  } while (v >= 1000 && i < units.length - 1);
  return `${v >= 100 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

/**
 * Looks at a file before anything is stored: its size against the server's limit (without
 * reading it: a 2 GB file is refused at once), its real type from its first bytes (not its
 * name), its structure to the last byte (the server's own check: a cut-off, damaged or
 * polyglot file is refused here, not after the upload), and the DICOM tags that prefill the form.
 */
export async function checkFile(file: Blob, maxBytes: number, name = fileName(file)): Promise<FileCheck> {
  if (file.size === 0) return { ok: false, problem: { code: 'empty', message: `${name} is empty.` } };
  if (file.size > maxBytes) {
    return {
      ok: false,
      problem: {
        code: 'too_large',
        message: `${name} is ${formatBytes(file.size)}: the server accepts X-rays up to ${formatBytes(maxBytes)}.`,
      },
    };
  }
  const head = await readHead(file);
  if (!head) {
    return {
      ok: false,
      problem: { code: 'unsupported_type', message: `${name} is not an X-ray image: use DICOM, PNG or JPEG files.` },
    };
  }
  if (head.headerTooLong)
    return { ok: false, problem: { code: 'invalid_content', message: `${name} ${DICOM_HEADER_TOO_LONG}.` } };
  const refusal = await checkStructure(file, head.contentType);
  if (refusal) {
    const code = refusal.kind === 'unsupported' ? 'unsupported_type' : 'invalid_content';
    return { ok: false, problem: { code, message: `${name} ${refusal.problem}.` } };
  }
  return {
    ok: true,
    ...head,
    ...(head.dicomError === undefined
      ? {}
      : { dicomWarning: `The DICOM header could not be read (${head.dicomError}): fill in the fields by hand.` }),
  };
}

/** Walks the whole file's structure as its type says, streamed (memory stays flat); the refusal, if any. */
export async function checkStructure(file: Blob, contentType: ContentType): Promise<FileStructureError | undefined> {
  const walker = formatWalkerFor(contentType);
  const reader = file.stream().getReader();
  try {
    for (let next = await reader.read(); !next.done; next = await reader.read()) walker.update(next.value);
    walker.end();
    return undefined;
  } catch (err) {
    await reader.cancel().catch(() => undefined);
    if (err instanceof FileStructureError) return err;
    throw err;
  }
}

/** Reads a file's head (once) for its real type, from its bytes not its name; undefined when not DICOM, PNG or JPEG. */
export async function readHead(file: Blob): Promise<FileHead | undefined> {
  const head = new Uint8Array(
    await file.slice(0, Math.max(CONTENT_SNIFF_BYTES, DICOM_HEADER_PREFIX_BYTES)).arrayBuffer(),
  );
  const contentType = sniffContentType(head);
  if (!contentType) return undefined;
  if (contentType !== 'application/dicom') return { contentType };
  try {
    // dcmjs is loaded with the first DICOM file picked (a chunk of its own, precached for offline use).
    const { readDicomHeader } = await loadDicomReader();
    const header = readDicomHeader(await dicomHeaderBytes(file, head));
    // The header goes on past the bound: its patient tags are unread, and the server refuses it.
    if (!header.complete && file.size > DICOM_MAX_HEADER_BYTES)
      return { contentType, dicomError: `the file ${DICOM_HEADER_TOO_LONG}`, headerTooLong: true };
    return { contentType, dicom: dicomTagsOf(header) };
  } catch (err) {
    return { contentType, dicomError: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * The bytes of a DICOM file to read its header from, as the server reads it: the first
 * DICOM_HEADER_PREFIX_BYTES (`head`, when already read) and, when the header goes on past them
 * (the patient tags may come after long private data), on to DICOM_MAX_HEADER_BYTES. The file is
 * local: a second read costs little.
 */
export async function dicomHeaderBytes(file: Blob, head?: Uint8Array): Promise<Uint8Array> {
  const prefix = head ?? new Uint8Array(await file.slice(0, DICOM_HEADER_PREFIX_BYTES).arrayBuffer());
  if (file.size <= prefix.length || prefix.length >= DICOM_MAX_HEADER_BYTES) return prefix;
  const { readDicomHeader } = await loadDicomReader();
  let complete: boolean;
  try {
    complete = readDicomHeader(prefix).complete;
  } catch {
    return prefix;
  }
  return complete ? prefix : new Uint8Array(await file.slice(0, DICOM_MAX_HEADER_BYTES).arrayBuffer());
}

export const fileName = (file: Blob): string => (file instanceof File && file.name ? file.name : 'This file');
