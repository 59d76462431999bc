import type { ObjectStore } from '../storage/index.ts';
import {
  ContentInspection,
  dicomReaderLoader,
  type DicomReaderSource,
  type InspectedContent,
} from './content-inspector.ts';
import { Xre1Verifier } from '../xre1/index.ts';

/**
 * What finalize needs to know about an uploaded XRE1 object: decrypted and authenticated
 * segment by segment, its plaintext inspected (sha256, size, type, DICOM tags) and dropped.
 * Fed either from storage (after the upload) or with each tus PATCH's bytes as they arrive;
 * both run this same code. Throws Xre1Error (not intact ciphertext for this key) or DomainError
 * (too large, not an accepted type).
 */
export class CiphertextInspection {
  readonly #verifier: Xre1Verifier;
  readonly #content: ContentInspection;

  /** `dicom` reads a DICOM file's header: the reader, or its loader (dicomReaderLoader, used only for a DICOM). */
  constructor(rawKey: Uint8Array, maxPlaintextBytes: number, dicom: DicomReaderSource) {
    this.#verifier = new Xre1Verifier(rawKey);
    this.#content = new ContentInspection(maxPlaintextBytes, dicom);
  }

  /** Ciphertext bytes taken so far. */
  get consumed(): number {
    return this.#verifier.consumed;
  }

  get retainedBytes(): number {
    return this.#verifier.retainedBytes + this.#content.retainedBytes;
  }

  push(ciphertext: Uint8Array): void {
    for (const plain of this.#verifier.push(ciphertext)) this.#content.update(plain);
  }

  /** Resolves once finish() can read a DICOM header (ContentInspection.ready). */
  ready(): Promise<void> {
    return this.#content.ready();
  }

  /**
   * The object is complete: checks its last segment and returns what it is. A DICOM's reader must
   * be loaded (ready()); else this throws, and the caller reads the object back.
   */
  finish(): InspectedContent {
    this.end();
    return this.#content.result();
  }

  /** The object is complete: checks its last segment; result() once ready(). */
  end(): void {
    for (const plain of this.#verifier.end()) this.#content.update(plain);
    this.#content.end();
  }

  result(): InspectedContent {
    return this.#content.result();
  }
}

/** Reads a stored object back through the inspection (a tus upload not verified while it arrived). */
export async function inspectStoredObject(
  store: ObjectStore,
  key: string,
  rawKey: Uint8Array,
  maxPlaintextBytes: number,
): Promise<InspectedContent> {
  const inspection = new CiphertextInspection(rawKey, maxPlaintextBytes, dicomReaderLoader);
  const source = await store.get(key);
  try {
    for await (const chunk of source) inspection.push(chunk as Buffer);
  } finally {
    source.destroy();
  }
  // A file of one segment is only sniffed at its end: its reader may still be loading.
  inspection.end();
  await inspection.ready();
  return inspection.result();
}
