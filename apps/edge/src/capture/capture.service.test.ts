import { decryptBytes, generateDek } from '@xray/shared';
import { dicomTagsFor, sha256Hex } from '@xray/testkit';
import { describe, expect, it } from 'vitest';
import { CaptureError } from './capture.errors.ts';
import { createCaptureService, type CaptureInput } from './capture.service.ts';
import { checkFile } from './file-check.ts';
import {
  DEVICE_KEY_ID,
  DEVICE_PRIVATE_KEY_ID,
  getOrCreateDevicePublicKey,
  unwrapWithDeviceKey,
  unwrapWithDevicePrivateKey,
  wrapToDevicePublicKey,
} from '../crypto/device-key.ts';
import { EdgeDb } from '../db/edge.db.ts';
import { blobOf, freshDb, smallDicom, smallJpeg, smallPng, validInput } from '../../test/fixtures.ts';

/** Does `haystack` contain any 64-byte run of `needle`? (aligned 32-byte blocks of the needle suffice) */
function containsRunOf(haystack: Uint8Array, needle: Uint8Array): boolean {
  const blocks = new Set<string>();
  for (let i = 0; i + 32 <= needle.length; i += 32)
    blocks.add(Buffer.from(needle.subarray(i, i + 32)).toString('latin1'));
  const text = Buffer.from(haystack).toString('latin1');
  for (let i = 0; i + 32 <= text.length; i++) if (blocks.has(text.slice(i, i + 32))) return true;
  return false;
}

describe('capture()', () => {
  it('stores a DICOM encrypted, prefilled from its tags, and decryptable only with the device key', async () => {
    const db = await freshDb();
    const { capture, readMetadata } = createCaptureService({ db });
    const bytes = smallDicom({ seed: 3, patientId: 'P-7' });
    const result = await capture(blobOf(bytes, 'P-7 chest.dcm'), {
      capturedAt: '2026-11-27T08:15:00Z',
      priority: 'urgent',
    });

    expect(result).toMatchObject({
      contentType: 'application/dicom',
      sha256: sha256Hex(bytes),
      plaintextSize: bytes.length,
      warnings: [],
    });
    expect(result.metadata.xray).toMatchObject({ patientId: 'P-7', bodyPart: 'CHEST', view: 'PA' });
    expect(result.metadata.dicom).toEqual(dicomTagsFor({ rows: 64, columns: 64, seed: 3, patientId: 'P-7' }));

    const record = await db.captures.get(result.id);
    const blob = await db.blobs.get(result.id);
    expect(record).toMatchObject({
      status: 'queued',
      priority: 'urgent',
      sha256: sha256Hex(bytes),
      keyId: DEVICE_KEY_ID,
    });
    const ciphertext = new Uint8Array(await blob!.ciphertext.arrayBuffer());
    expect(ciphertext.length).toBe(record!.ciphertextSize);
    const dek = await unwrapWithDeviceKey(db, record!.wrappedDek, record!.keyId);
    expect(Buffer.from(await decryptBytes(dek, ciphertext)).equals(Buffer.from(bytes))).toBe(true);
    expect(await readMetadata(result.id)).toEqual(result.metadata);

    // Nothing readable: no run of the file, no patient id or file name outside the ciphertext.
    expect(containsRunOf(ciphertext, bytes)).toBe(false);
    const plainFields = JSON.stringify({ ...record, wrappedDek: undefined, encryptedMetadata: undefined });
    expect(plainFields).not.toContain('P-7');
    expect(Buffer.from(record!.encryptedMetadata).toString('latin1')).not.toContain('P-7');
  });

  it('warns when the DICOM names another patient than the one entered, by the wrong-patient rules', async () => {
    const db = await freshDb();
    const { capture } = createCaptureService({ db });
    const file = blobOf(smallDicom({ patientId: 'P-OTHER' }));
    const result = await capture(file, validInput({ patientId: 'P-1001' }));
    expect(result.warnings).toEqual([
      {
        code: 'patient_id_mismatch',
        message: 'The file names patient P-OTHER, not P-1001. Check the patient before it is sent.',
      },
    ]);
    expect(result.metadata.xray.patientId).toBe('P-1001');
    // The same id in other case and blanks is the same patient (patient-check.ts: P-1001 = p-1001).
    const sameId = await capture(blobOf(smallDicom({ patientId: 'P-1001' })), validInput({ patientId: ' p-1001 ' }));
    expect(sameId.warnings).toEqual([]);
    // A decision that settles the hold (keep, with a reason) leaves nothing to warn about; one that
    // does not (use the file's patient, yet another id sent), still warns.
    const keep: CaptureInput = {
      patientDecision: 'keep_chosen_patient',
      patientDecisionReason: 'Detector had the previous patient',
    };
    expect((await capture(file, validInput(keep))).warnings).toEqual([]);
    const useFile = await capture(file, validInput({ patientDecision: 'use_file_patient' }));
    expect(useFile.warnings.map((w) => w.code)).toEqual(['patient_id_mismatch']);
  });

  it('fills only the fields left blank from the DICOM tags, upper-cased, a view only when the schema knows it', async () => {
    const db = await freshDb();
    const { capture } = createCaptureService({ db });
    const file = blobOf(smallDicom({ patientId: 'P-7' }));
    const blank = await capture(file, validInput({ patientId: ' ', bodyPart: '', view: undefined }));
    expect(blank.metadata.xray).toMatchObject({ patientId: 'P-7', bodyPart: 'CHEST', view: 'PA' });
    const entered = await capture(file, validInput({ patientId: 'P-7', bodyPart: 'HAND', view: 'LAT' }));
    expect(entered.metadata.xray).toMatchObject({ patientId: 'P-7', bodyPart: 'HAND', view: 'LAT' });
  });

  it('tells the real type from the bytes, not the name, and refuses what is not an X-ray image', async () => {
    const db = await freshDb();
    const { capture } = createCaptureService({ db });
    expect((await capture(blobOf(smallPng(1), 'scan.dcm'), validInput())).contentType).toBe('image/png');
    expect((await capture(blobOf(smallJpeg(1), 'scan.png'), validInput())).contentType).toBe('image/jpeg');
    await expect(
      capture(blobOf(new TextEncoder().encode('%PDF-1.7 not an image'), 'x.png'), validInput()),
    ).rejects.toMatchObject({
      code: 'unsupported_type',
    });
    expect(await db.captures.count()).toBe(2);
  });

  it('refuses invalid metadata with field errors and stores nothing, unless asked to keep it', async () => {
    const db = await freshDb();
    const { capture, updateMetadata } = createCaptureService({ db });
    const attempt = capture(blobOf(smallPng(2)), validInput({ bodyPart: 'CHEST!!', patientId: '' }));
    await expect(attempt).rejects.toBeInstanceOf(CaptureError);
    await expect(attempt).rejects.toMatchObject({
      code: 'invalid_metadata',
      fields: expect.arrayContaining([
        expect.objectContaining({ field: 'bodyPart' }),
        expect.objectContaining({ field: 'patientId' }),
      ]),
    });
    expect(await db.captures.count()).toBe(0);
    expect(await db.blobs.count()).toBe(0);

    const kept = await capture(blobOf(smallPng(2)), validInput({ bodyPart: 'CHEST!!' }), { validate: false });
    expect(kept.metadata.xray.bodyPart).toBe('CHEST!!');
    await db.captures.update(kept.id, { status: 'needs-attention', lastError: { message: 'bad body part', at: 1 } });
    const fixed = await updateMetadata(kept.id, { bodyPart: 'chest' });
    expect(fixed.xray.bodyPart).toBe('CHEST');
    expect(await db.captures.get(kept.id)).toMatchObject({ status: 'queued', attempts: 0 });
    expect((await db.captures.get(kept.id))?.lastError).toBeUndefined();
  });

  it('a fix that changes the patient drops the decision made for the previous one (it was not about this patient)', async () => {
    const db = await freshDb();
    const { capture, updateMetadata } = createCaptureService({ db });
    const file = blobOf(smallDicom({ patientId: 'P-2002' }), 'chest.dcm');
    const kept = await capture(
      file,
      validInput({
        patientId: 'P-1001',
        patientDecision: 'keep_chosen_patient',
        patientDecisionReason: 'Detector had the previous patient loaded',
      }),
    );
    expect(kept.metadata.xray).toMatchObject({ patientDecision: 'keep_chosen_patient' });
    await db.captures.update(kept.id, { status: 'needs-attention', lastError: { message: 'refused', at: 1 } });
    // Same patient, another field: the decision stays.
    const sameWho = await updateMetadata(kept.id, { view: 'LAT' });
    expect(sameWho.xray).toMatchObject({ patientId: 'P-1001', patientDecision: 'keep_chosen_patient' });
    await db.captures.update(kept.id, { status: 'needs-attention' });
    // Another patient: no decision travels (the server then records the file mismatch).
    const other = await updateMetadata(kept.id, { patientId: 'P-1003' });
    expect(other.xray.patientId).toBe('P-1003');
    expect(other.xray.patientDecision).toBeUndefined();
    expect(other.xray.patientDecisionReason).toBeUndefined();
    // Held again and decided anew (the fix form's hold): that decision travels, whole.
    await db.captures.update(kept.id, { status: 'needs-attention' });
    await updateMetadata(kept.id, {
      patientId: 'P-1003',
      patientDecision: 'keep_chosen_patient',
      patientDecisionReason: 'Crew knows',
    });
    await db.captures.update(kept.id, { status: 'needs-attention' });
    const useFile = await updateMetadata(kept.id, { patientId: 'P-2002', patientDecision: 'use_file_patient' });
    expect(useFile.xray).toMatchObject({ patientId: 'P-2002', patientDecision: 'use_file_patient' });
    expect(useFile.xray.patientDecisionReason).toBeUndefined();
  });

  it('an identity override travels with the decision it belongs to, and goes with its patient', async () => {
    const db = await freshDb();
    const { capture, updateMetadata } = createCaptureService({ db });
    const identityOverride = {
      fields: ['patientName' as const],
      reason: 'Detector kept the last name',
      decidedAt: '2026-12-06T10:05:00Z',
    };
    const kept = await capture(
      blobOf(smallDicom({ patientId: 'P-1001', patientName: 'DOE^JOHN' }), 'chest.dcm'),
      validInput({
        patientId: 'P-1001',
        patientDecision: 'keep_chosen_patient',
        patientDecisionReason: identityOverride.reason,
        identityOverride,
      }),
    );
    expect(kept.metadata.xray.identityOverride).toEqual(identityOverride);
    await db.captures.update(kept.id, { status: 'needs-attention' });
    expect((await updateMetadata(kept.id, { view: 'LAT' })).xray.identityOverride).toEqual(identityOverride);
    await db.captures.update(kept.id, { status: 'needs-attention' });
    expect((await updateMetadata(kept.id, { patientId: 'P-1003' })).xray.identityOverride).toBeUndefined();
  });

  it('given the head checkFile read, stores the same X-ray as when it reads the head itself', async () => {
    const db = await freshDb();
    const { capture, readMetadata } = createCaptureService({ db });
    const bytes = smallDicom({ patientId: 'P-2002' });
    const file = blobOf(bytes, 'chest.dcm');
    const check = await checkFile(file, 1024 ** 3);
    if (!check.ok) return expect.fail(check.problem.message);
    const given = await capture(file, validInput(), { head: check });
    const read = await capture(file, validInput());

    // What is stored, both ways: ciphertext that decrypts to the original bytes, and the same metadata.
    for (const result of [given, read]) {
      const record = await db.captures.get(result.id);
      const blob = await db.blobs.get(result.id);
      const dek = await unwrapWithDeviceKey(db, record!.wrappedDek, record!.keyId);
      const plain = await decryptBytes(dek, new Uint8Array(await blob!.ciphertext.arrayBuffer()));
      expect(sha256Hex(plain)).toBe(sha256Hex(bytes));
      expect(record!.sha256).toBe(sha256Hex(bytes));
      expect(await readMetadata(result.id)).toEqual(read.metadata);
    }
    expect(given.contentType).toBe('application/dicom');
    expect(given.warnings).toEqual([expect.objectContaining({ code: 'patient_id_mismatch' })]);
    expect(given.warnings).toEqual(read.warnings);
    expect(given.metadata).toEqual(read.metadata);

    // The head given is the one used, not read again: tags it carries show in what is stored.
    const told = { ...check, dicom: { ...check.dicom, patientId: 'P-FROM-HEAD' } };
    const trusted = await capture(file, validInput({ patientId: '' }), { head: told });
    expect(trusted.metadata.xray.patientId).toBe('P-FROM-HEAD');
  });

  it('a DICOM whose header cannot be read is refused by checkFile, as the server refuses it', async () => {
    // DICOM by its magic, but no header to read behind it.
    const bytes = new Uint8Array(400).fill(0xff);
    bytes.set(new TextEncoder().encode('DICM'), 128);
    bytes.fill(0, 0, 128);
    expect(await checkFile(blobOf(bytes, 'broken.dcm'), 1024 ** 3)).toEqual({
      ok: false,
      problem: { code: 'invalid_content', message: 'broken.dcm is damaged and cannot be read.' },
    });
  });

  it('keeps one device key pair, whoever asks first', async () => {
    const db = new EdgeDb(`edge-key-${crypto.randomUUID()}`);
    const [a, b] = await Promise.all([getOrCreateDevicePublicKey(db), getOrCreateDevicePublicKey(db)]);
    // Two racing first runs end with the same stored key: what one wraps, the other unwraps.
    const dek = await generateDek();
    const privateKey = (await db.keys.get(DEVICE_PRIVATE_KEY_ID))!.key;
    for (const pub of [a, b]) {
      const unwrapped = await unwrapWithDevicePrivateKey(await wrapToDevicePublicKey(dek, pub), privateKey);
      expect(await crypto.subtle.exportKey('raw', unwrapped)).toEqual(await crypto.subtle.exportKey('raw', dek));
    }
    expect(a.algorithm.name).toBe('ECDH');
    expect(a.type).toBe('public');
    // No PIN yet: the private half waits in `keys` until the vault exists (public + private).
    expect(await db.keys.count()).toBe(2);
  });
});
