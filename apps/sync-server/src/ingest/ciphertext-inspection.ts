import { loadDicomReader, type DicomReader } from '@xray/shared';
import type { ObjectStore } from '../storage/index.ts';
import { ContentInspection, type InspectedContent } from './content-inspector.ts';
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

  /** `dicom` reads a DICOM file's header (loadDicomReader). */
  constructor(rawKey: Uint8Array, maxPlaintextBytes: number, dicom: Pick<DicomReader, 'readDicomHeader'>) {
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

  /** The object is complete: checks its last segment and returns what it is. */
  finish(): InspectedContent {
    for (const plain of this.#verifier.end()) this.#content.update(plain);
    this.#content.end();
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
  const inspection = new CiphertextInspection(rawKey, maxPlaintextBytes, await loadDicomReader());
  const source = await store.get(key);
  try {
    for await (const chunk of source) inspection.push(chunk as Buffer);
  } finally {
    source.destroy();
  }
  return inspection.finish();
}
