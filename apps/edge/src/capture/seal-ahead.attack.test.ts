import { DEFAULT_SEGMENT_SIZE, decryptBytes, encryptBytes, fromBase64, generateDek } from '@xray/shared';
import { sha256Hex } from '@xray/testkit';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCaptureService } from './capture.service.ts';
import { sealAhead } from './seal-ahead.ts';
import { unwrapWithDeviceKey } from '../crypto/device-key.ts';
import { WHOLE_FILE_MAX_BYTES, hashAndEncrypt } from '../crypto/encrypt-file.ts';
import type { EdgeDb } from '../db/edge.db.ts';
import { blobOf, freshDb, smallDicom, smallPng, validInput } from '../../test/fixtures.ts';

/**
 * Attack on sealing ahead of Save (seal-ahead.ts, capture.service.ts `opts.sealed`): whatever the
 * order of picks, Saves and failures, each capture is stored under its own DEK and decrypts to the
 * file given to capture(); the 1 MiB views of the whole-file path give the bytes XRE1 always gave.
 */

/**
 * Every capture on the device: its DEK (raw hex, unwrapped with the device key; the wrapped bytes
 * differ even for one DEK, each wrap has its own ephemeral ECDH key) and the sha256 of what its
 * stored blob decrypts to.
 */
async function stored(db: EdgeDb): Promise<{ dek: string; sha256: string; recorded: string; status: string }[]> {
  const out = [];
  for (const record of await db.captures.toArray()) {
    const blob = await db.blobs.get(record.id);
    const dek = await unwrapWithDeviceKey(db, record.wrappedDek, record.keyId);
    const plaintext = await decryptBytes(dek, new Uint8Array(await blob!.ciphertext.arrayBuffer()));
    out.push({
      dek: Buffer.from(await crypto.subtle.exportKey('raw', dek)).toString('hex'),
      sha256: sha256Hex(plaintext),
      recorded: record.sha256,
      status: record.status,
    });
  }
  return out;
}

/** A File whose first `failures` whole reads (arrayBuffer) fail, as Chromium's do when the file changed or went away. */
class FlakyFile extends File {
  reads = 0;
  constructor(
    bytes: Uint8Array,
    name: string,
    private failures: number,
  ) {
    super([new Uint8Array(bytes)], name);
  }
  override arrayBuffer(): Promise<ArrayBuffer> {
    this.reads += 1;
    if (this.failures > 0) {
      this.failures -= 1;
      return Promise.reject(new DOMException('The requested file could not be read.', 'NotReadableError'));
    }
    return super.arrayBuffer();
  }
}

/** Lets the early seal fail before Save (its read is rejected at once; a few macrotasks are plenty). */
const settle = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 1));
};

describe('sealing ahead of Save, attacked', () => {
  it('A sealed, then B saved with A’s sealing (a stale ref, a same-looking file): B is stored, A is not, A stays untaken', async () => {
    const db = await freshDb();
    const { capture } = createCaptureService({ db });
    const a = smallDicom({ seed: 31 });
    const b = smallDicom({ seed: 32 });
    const fileA = new File([new Uint8Array(a)], 'chest.dcm', { lastModified: 1 });
    // Same name, size and date as A: only the object's identity tells them apart.
    const fileB = new File([new Uint8Array(b)], 'chest.dcm', { lastModified: 1 });
    expect(fileB.size).toBe(fileA.size);
    const sealedA = sealAhead(fileA);

    const result = await capture(fileB, validInput(), { sealed: sealedA });

    expect(result.sha256).toBe(sha256Hex(b));
    expect((await stored(db)).map((s) => s.sha256)).toEqual([sha256Hex(b)]);
    // A's work is still there for A (nothing of it was used for B).
    expect(sealedA.take()).toBeDefined();
  });

  it('two files sealed one after the other, and Save tapped twice for the first: three captures, three DEKs, each decrypts to its file', async () => {
    const db = await freshDb();
    const { capture } = createCaptureService({ db });
    const a = smallDicom({ seed: 33 });
    const b = smallPng(34);
    const fileA = blobOf(a, 'a.dcm');
    const fileB = blobOf(b, 'b.png');
    const sealedA = sealAhead(fileA);
    const sealedB = sealAhead(fileB);

    // The double tap: both Saves start before either is stored (the seal is still running).
    const [first, second] = await Promise.all([
      capture(fileA, validInput(), { sealed: sealedA }),
      capture(fileA, validInput(), { sealed: sealedA }),
    ]);
    const third = await capture(fileB, validInput(), { sealed: sealedB });

    expect([first.sha256, second.sha256, third.sha256]).toEqual([sha256Hex(a), sha256Hex(a), sha256Hex(b)]);
    const all = await stored(db);
    expect(all).toHaveLength(3);
    expect(new Set(all.map((s) => s.dek)).size).toBe(3);
    expect(all.map((s) => s.sha256).sort()).toEqual([sha256Hex(a), sha256Hex(a), sha256Hex(b)].sort());
    for (const s of all) expect(s.recorded).toBe(s.sha256);
  });

  it('Save while the early seal of a 20 MiB DICOM is still running: one capture, the file byte for byte', async () => {
    const db = await freshDb();
    const { capture } = createCaptureService({ db });
    const head = smallDicom({ seed: 36 });
    const bytes = new Uint8Array(head.length + 20 * DEFAULT_SEGMENT_SIZE + 17);
    bytes.set(head);
    bytes.set(randomBytes(bytes.length - head.length), head.length);
    const file = blobOf(bytes, 'big.dcm');
    const sealed = sealAhead(file);

    const result = await capture(file, validInput(), { sealed });

    expect(result.sha256).toBe(sha256Hex(bytes));
    expect(await stored(db)).toEqual([
      expect.objectContaining({ sha256: sha256Hex(bytes), recorded: sha256Hex(bytes), status: 'queued' }),
    ]);
    expect(sealed.take()).toBeUndefined();
  });

  it('an early seal that failed (file unreadable then, readable at Save) is redone at Save: one capture of the file', async () => {
    const db = await freshDb();
    const { capture } = createCaptureService({ db });
    const bytes = smallDicom({ seed: 37 });
    const file = new FlakyFile(bytes, 'chest.dcm', 1);
    const sealed = sealAhead(file);
    await settle();
    expect(file.reads).toBe(1);

    const result = await capture(file, validInput(), { sealed });

    expect(file.reads).toBe(2);
    expect(result.sha256).toBe(sha256Hex(bytes));
    expect((await stored(db)).map((s) => s.sha256)).toEqual([sha256Hex(bytes)]);
  });

  it('a file that cannot be read at all: Save fails with the read error, nothing is stored', async () => {
    const db = await freshDb();
    const { capture } = createCaptureService({ db });
    const file = new FlakyFile(smallDicom({ seed: 38 }), 'chest.dcm', Number.POSITIVE_INFINITY);
    const sealed = sealAhead(file);
    await settle();

    await expect(capture(file, validInput(), { sealed })).rejects.toThrow('could not be read');

    expect(await db.captures.count()).toBe(0);
    expect(await db.blobs.count()).toBe(0);
  });

  it('a file over 64 MiB is sealed ahead streamed (never read whole) and stored byte for byte', async () => {
    const db = await freshDb();
    const { capture } = createCaptureService({ db });
    const head = smallDicom({ seed: 39 });
    const bytes = new Uint8Array(WHOLE_FILE_MAX_BYTES + 1);
    bytes.set(head);
    bytes.fill(7, head.length);
    // A whole read of this file fails the test: the streamed path reads it in chunks.
    const file = new FlakyFile(bytes, 'huge.dcm', Number.POSITIVE_INFINITY);
    const sealed = sealAhead(file);

    const result = await capture(file, validInput(), { sealed });

    expect(file.reads).toBe(0);
    expect(result.sha256).toBe(sha256Hex(bytes));
    expect((await stored(db)).map((s) => s.sha256)).toEqual([sha256Hex(bytes)]);
  }, 60_000);
});

describe('the whole-file path in 1 MiB views, yielding: the XRE1 bytes are those of the one-shot encryptor', () => {
  /** The nonce prefix the ciphertext's header names (the only random part of XRE1). */
  const noncePrefixOf = (ciphertext: Uint8Array): Uint8Array => {
    const length = new DataView(ciphertext.buffer, ciphertext.byteOffset).getUint32(4);
    const header = JSON.parse(new TextDecoder().decode(ciphertext.subarray(8, 8 + length))) as { np: string };
    const prefix = fromBase64(header.np);
    if (!prefix) throw new Error(`not base64: ${header.np}`);
    return prefix;
  };

  const sizes = [
    0,
    1,
    DEFAULT_SEGMENT_SIZE - 1,
    DEFAULT_SEGMENT_SIZE,
    DEFAULT_SEGMENT_SIZE + 1,
    3 * DEFAULT_SEGMENT_SIZE + 12_345,
  ];
  for (const yieldBetweenSegments of [false, true]) {
    it.each(sizes)(
      `yield=${yieldBetweenSegments}: %i bytes give the bytes of the one-shot encryptor (encryptBytes) under the same nonce prefix`,
      async (size) => {
        const bytes = new Uint8Array(randomBytes(size));
        const dek = await generateDek();
        const whole = await hashAndEncrypt(new Blob([bytes]), dek, {
          wholeFileMaxBytes: Number.MAX_SAFE_INTEGER,
          yieldBetweenSegments,
        });
        const ciphertext = new Uint8Array(await whole.ciphertext.arrayBuffer());
        const expected = await encryptBytes(dek, bytes, { noncePrefix: noncePrefixOf(ciphertext) });
        expect(Buffer.from(ciphertext).equals(Buffer.from(expected))).toBe(true);
        expect(whole.sha256).toBe(sha256Hex(bytes));
        expect(whole.plaintextSize).toBe(size);
      },
    );
  }
});
