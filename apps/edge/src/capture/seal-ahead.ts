import { generateDek } from '@xray/shared';
import { hashAndEncrypt, type EncryptedFile } from '../crypto/encrypt-file.ts';

/**
 * A file hashed and encrypted ahead of Save, under the fresh DEK its capture will use. Nothing is
 * stored: `capture()` wraps the DEK, seals the form's metadata and writes the one transaction as
 * before, so "queued" still means on disk. The file's bytes do not depend on the form, so the
 * capture screen starts this when the file is chosen, while the paramedic types; for an 18 MB
 * DICOM it was most of Save → "queued" (reading, hashing, sealing: the browser's memory copies).
 */
export interface SealedAhead {
  readonly file: Blob;
  /** The DEK and the work under it, once: one DEK is one capture. Undefined when already taken. */
  take(): { dek: Promise<CryptoKey>; encrypted: Promise<EncryptedFile> } | undefined;
  /** Stops the work unless a capture took it (the file was discarded, saved without it, or left). */
  drop(): void;
}

export function sealAhead(file: Blob): SealedAhead {
  const abort = new AbortController();
  const dek = generateDek();
  const encrypted = dek.then((key) => hashAndEncrypt(file, key, { yieldBetweenSegments: true, signal: abort.signal }));
  // Seen (and redone) by the capture that takes it; never taken, it must not be an unhandled rejection.
  encrypted.catch(() => undefined);
  let taken = false;
  return {
    file,
    take() {
      if (taken) return undefined;
      taken = true;
      return { dek, encrypted };
    },
    drop() {
      if (taken) return;
      taken = true;
      abort.abort();
    },
  };
}
