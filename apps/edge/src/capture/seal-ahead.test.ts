import { decryptBytes, generateDek } from '@xray/shared';
import { sha256Hex } from '@xray/testkit';
import { describe, expect, it } from 'vitest';
import { createCaptureService } from './capture.service.ts';
import { sealAhead, type SealedAhead } from './seal-ahead.ts';
import { unwrapWithDeviceKey } from '../crypto/device-key.ts';
import { hashAndEncrypt } from '../crypto/encrypt-file.ts';
import type { EdgeDb } from '../db/edge.db.ts';
import { blobOf, freshDb, smallDicom, validInput } from '../../test/fixtures.ts';

/** What the device holds for a capture, decrypted with its stored wrapped DEK (as the upload does). */
async function storedPlaintext(db: EdgeDb, id: string): Promise<{ bytes: Uint8Array; ciphertext: Uint8Array }> {
  const record = await db.captures.get(id);
  const blob = await db.blobs.get(id);
  const ciphertext = new Uint8Array(await blob!.ciphertext.arrayBuffer());
  const dek = await unwrapWithDeviceKey(db, record!.wrappedDek, record!.keyId);
  return { bytes: await decryptBytes(dek, ciphertext), ciphertext };
}

/** A sealing ahead made by hand, to see whether capture() used its work. */
async function handSealed(file: Blob, encrypted?: Promise<never>) {
  const dek = await generateDek();
  const work = await hashAndEncrypt(file, dek);
  let takes = 0;
  const sealed: SealedAhead = {
    file,
    take() {
      takes += 1;
      return takes === 1 ? { dek: Promise.resolve(dek), encrypted: encrypted ?? Promise.resolve(work) } : undefined;
    },
    drop: () => undefined,
  };
  return { sealed, ciphertext: new Uint8Array(await work.ciphertext.arrayBuffer()), takes: () => takes };
}

describe('sealing ahead of Save', () => {
  it('capture() stores the ciphertext made ahead, queued, under a DEK it wrapped: it decrypts to the file', async () => {
    const db = await freshDb();
    const { capture } = createCaptureService({ db });
    const bytes = smallDicom({ seed: 11, patientId: 'P-1001' });
    const file = blobOf(bytes, 'chest.dcm');
    const ahead = await handSealed(file);

    const result = await capture(file, validInput(), { sealed: ahead.sealed });

    expect(result.sha256).toBe(sha256Hex(bytes));
    expect(await db.captures.get(result.id)).toMatchObject({ status: 'queued', sha256: sha256Hex(bytes) });
    const stored = await storedPlaintext(db, result.id);
    expect(Buffer.from(stored.ciphertext).equals(Buffer.from(ahead.ciphertext))).toBe(true);
    expect(sha256Hex(stored.bytes)).toBe(sha256Hex(bytes));
  });

  it('is used once: a second capture with it encrypts the file itself, under another DEK', async () => {
    const db = await freshDb();
    const { capture } = createCaptureService({ db });
    const bytes = smallDicom({ seed: 12 });
    const file = blobOf(bytes, 'chest.dcm');
    const sealed = sealAhead(file);

    const first = await capture(file, validInput(), { sealed });
    const second = await capture(file, validInput(), { sealed });

    const a = await storedPlaintext(db, first.id);
    const b = await storedPlaintext(db, second.id);
    expect(sha256Hex(a.bytes)).toBe(sha256Hex(bytes));
    expect(sha256Hex(b.bytes)).toBe(sha256Hex(bytes));
    expect(Buffer.from(a.ciphertext).equals(Buffer.from(b.ciphertext))).toBe(false);
  });

  it("another file's sealing is not used (and stays untaken): the capture is of the file given", async () => {
    const db = await freshDb();
    const { capture } = createCaptureService({ db });
    const chosen = smallDicom({ seed: 13 });
    const other = await handSealed(blobOf(smallDicom({ seed: 14 }), 'other.dcm'));

    const result = await capture(blobOf(chosen, 'chest.dcm'), validInput(), { sealed: other.sealed });

    expect(other.takes()).toBe(0);
    expect(result.sha256).toBe(sha256Hex(chosen));
    expect(sha256Hex((await storedPlaintext(db, result.id)).bytes)).toBe(sha256Hex(chosen));
  });

  it('a sealing that failed (the file could not be read then) is done again at Save', async () => {
    const db = await freshDb();
    const { capture } = createCaptureService({ db });
    const bytes = smallDicom({ seed: 15 });
    const file = blobOf(bytes, 'chest.dcm');
    const failed = Promise.reject(new Error('NotReadableError'));
    failed.catch(() => undefined);
    const ahead = await handSealed(file, failed);

    const result = await capture(file, validInput(), { sealed: ahead.sealed });

    expect(ahead.takes()).toBe(1);
    expect(sha256Hex((await storedPlaintext(db, result.id)).bytes)).toBe(sha256Hex(bytes));
  });
});
