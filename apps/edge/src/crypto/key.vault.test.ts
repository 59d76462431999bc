import { generateDek, wrapKeyAesKw } from '@xray/shared';
import { describe, expect, it } from 'vitest';
import { setUpPin, unlockWithKeyring, unlockWithPin } from '../auth/device.unlock.ts';
import { LEGACY_TOKEN_KEY_ID, loadSession, saveSession } from '../auth/token.vault.ts';
import { createCaptureService } from '../capture/capture.service.ts';
import { DEVICE_KEY_ID, DEVICE_PRIVATE_KEY_ID, DeviceLockedError, LEGACY_DEVICE_KEY_ID } from './device-key.ts';
import { FREE_PIN_ATTEMPTS, KeyVault, VaultError, keyVaultFor, type KeyringProtector } from './key.vault.ts';
import { EdgeDb } from '../db/edge.db.ts';
import type { CaptureMetadata } from '../db/edge.records.ts';
import { encryptBytes } from '@xray/shared';
import { TEST_PIN, TEST_SCRYPT, blobOf, smallPng, validInput } from '../../test/fixtures.ts';

const newDb = async (): Promise<EdgeDb> => {
  const db = new EdgeDb(`edge-vault-${crypto.randomUUID()}`);
  await db.open();
  return db;
};

/** Every byte IndexedDB holds for this database, as one latin1 string (records structured-cloned). */
async function everythingStored(db: EdgeDb): Promise<string> {
  const parts: string[] = [];
  const dump = (v: unknown): void => {
    if (v instanceof Uint8Array) parts.push(Buffer.from(v).toString('latin1'));
    else if (v instanceof ArrayBuffer) parts.push(Buffer.from(v).toString('latin1'));
    else if (Array.isArray(v)) v.forEach(dump);
    else if (typeof v === 'object' && v !== null) Object.values(v).forEach(dump);
    else parts.push(String(v));
  };
  for (const table of db.tables) dump(await table.toArray());
  return parts.join('\u0000');
}

const has = (haystack: string, needle: Uint8Array): boolean =>
  haystack.includes(Buffer.from(needle).toString('latin1'));

async function aesKey(): Promise<{ key: CryptoKey; raw: Uint8Array }> {
  const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, true, ['encrypt', 'decrypt']);
  return { key, raw: new Uint8Array(await crypto.subtle.exportKey('raw', key)) };
}

async function roundTrip(a: CryptoKey, b: CryptoKey): Promise<boolean> {
  const iv = new Uint8Array(12);
  const sealed = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, a, new Uint8Array([1, 2, 3]));
  const plain = new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv }, b, sealed));
  return plain.join() === '1,2,3';
}

describe('key vault (shift PIN)', () => {
  it('stores only sealed key bytes; the key comes back, non-extractable, with the right PIN only', async () => {
    const db = await newDb();
    const vault = new KeyVault(db, { scrypt: TEST_SCRYPT });
    expect(await vault.state()).toBe('none');
    await vault.setUpWithPin(TEST_PIN);
    const { key, raw } = await aesKey();
    const inMemory = await vault.put('k', key);
    expect(inMemory.extractable).toBe(false);
    const stored = await everythingStored(db);
    expect(has(stored, raw)).toBe(false);
    expect(stored).not.toContain(TEST_PIN);

    vault.lock();
    expect(await vault.state()).toBe('locked');
    expect(vault.get('k')).toBeUndefined();
    await expect(vault.unlockWithPin('135799')).rejects.toMatchObject({ code: 'wrong_pin' });
    expect(vault.get('k')).toBeUndefined();

    // A new page (a new vault object on the same database) unlocks with the PIN.
    const again = new KeyVault(db);
    await again.unlockWithPin(TEST_PIN);
    const back = again.get('k');
    expect(back?.extractable).toBe(false);
    expect(await roundTrip(key, back!)).toBe(true);
  });

  it('refuses a short or non-numeric PIN, and a second set-up', async () => {
    const vault = new KeyVault(await newDb(), { scrypt: TEST_SCRYPT });
    await expect(vault.setUpWithPin('1234')).rejects.toMatchObject({ code: 'weak_pin' });
    await expect(vault.setUpWithPin('abcdef')).rejects.toMatchObject({ code: 'weak_pin' });
    await vault.setUpWithPin(TEST_PIN);
    await expect(vault.setUpWithPin('999999')).rejects.toMatchObject({ code: 'exists' });
  });

  it('counts wrong PINs: after the free attempts it pauses (even the right PIN), then accepts it and resets', async () => {
    const db = await newDb();
    let now = 1_000_000;
    const vault = new KeyVault(db, { scrypt: TEST_SCRYPT, now: () => now });
    await vault.setUpWithPin(TEST_PIN);
    vault.lock();
    const errors: VaultError[] = [];
    for (let i = 0; i < FREE_PIN_ATTEMPTS; i++)
      errors.push(
        await vault.unlockWithPin('000000').then(
          () => Promise.reject(new Error('opened')),
          (e: VaultError) => e,
        ),
      );
    expect(errors.map((e) => e.code)).toEqual(Array(FREE_PIN_ATTEMPTS).fill('wrong_pin'));
    expect(errors[0]?.message).toBe(`Wrong PIN. ${FREE_PIN_ATTEMPTS - 1} attempts left before a pause.`);
    expect(errors.at(-1)?.message).toBe('Wrong PIN. Try again in 30 s.');
    const paused = await vault.unlockWithPin(TEST_PIN).catch((e: unknown) => e);
    expect(paused).toMatchObject({ code: 'rate_limited', retryAt: now + 30_000 });
    expect(vault.unlocked).toBe(false);
    // The pause is stored: a reload does not reset it.
    await expect(new KeyVault(db, { now: () => now }).unlockWithPin(TEST_PIN)).rejects.toMatchObject({
      code: 'rate_limited',
    });
    now += 30_001;
    await vault.unlockWithPin(TEST_PIN);
    expect(vault.unlocked).toBe(true);
    expect(await vault.blockedUntil()).toBe(0);
  });

  it('destroy() crypto-shreds: the right PIN opens nothing afterwards', async () => {
    const db = await newDb();
    keyVaultFor(db, { scrypt: TEST_SCRYPT });
    await setUpPin(db, TEST_PIN);
    await keyVaultFor(db).destroy();
    expect(await keyVaultFor(db).state()).toBe('none');
    await expect(unlockWithPin(db, TEST_PIN)).rejects.toMatchObject({ code: 'no_vault' });
  });
});

describe('key vault (OS keyring, Electron)', () => {
  /** Like the preload's bridge: bytes go to the main process and come back encrypted by the OS. */
  function fakeKeyring(): KeyringProtector & { held: Uint8Array[] } {
    const pad = crypto.getRandomValues(new Uint8Array(32));
    const held: Uint8Array[] = [];
    return {
      held,
      protect: (secret) => {
        held.push(new Uint8Array(secret));
        return Promise.resolve(secret.map((b, i) => b ^ (pad[i] ?? 0)));
      },
      unprotect: (bytes) => Promise.resolve(bytes.map((b, i) => b ^ (pad[i] ?? 0))),
    };
  }

  it('sets up on first start and unlocks on the next without a PIN; another keyring cannot', async () => {
    const db = await newDb();
    const keyring = fakeKeyring();
    await unlockWithKeyring(db, keyring);
    expect(keyVaultFor(db).unlocked).toBe(true);
    expect(keyVaultFor(db).get(DEVICE_PRIVATE_KEY_ID)?.extractable).toBe(false);
    const stored = await everythingStored(db);
    expect(has(stored, keyring.held[0]!)).toBe(false);

    const next = new KeyVault(db);
    await next.unlockWithKeyring(keyring);
    expect(next.get(DEVICE_PRIVATE_KEY_ID)).toBeDefined();
    await expect(new KeyVault(db).unlockWithKeyring(fakeKeyring())).rejects.toMatchObject({ code: 'keyring' });
  });
});

describe('capturing and the sign-in while locked', () => {
  it('captures while locked; reading it back needs the unlock', async () => {
    const db = await newDb();
    keyVaultFor(db, { scrypt: TEST_SCRYPT });
    await setUpPin(db, TEST_PIN);
    keyVaultFor(db).lock();
    const { capture, readMetadata } = createCaptureService({ db });
    const result = await capture(blobOf(smallPng(1), 'Quixotewell chest.png'), validInput({ patientId: 'P-LOCKED' }));
    expect((await db.captures.get(result.id))?.keyId).toBe(DEVICE_KEY_ID);
    await expect(readMetadata(result.id)).rejects.toBeInstanceOf(DeviceLockedError);
    await unlockWithPin(db, TEST_PIN);
    expect((await readMetadata(result.id)).xray.patientId).toBe('P-LOCKED');
  });

  it('a capture before the first PIN is moved under the PIN when it is set', async () => {
    const db = await newDb();
    keyVaultFor(db, { scrypt: TEST_SCRYPT });
    const { capture, readMetadata } = createCaptureService({ db });
    const result = await capture(blobOf(smallPng(2)), validInput({ patientId: 'P-EARLY' }));
    expect(await db.keys.get(DEVICE_PRIVATE_KEY_ID)).toBeDefined();
    await setUpPin(db, TEST_PIN);
    expect(await db.keys.get(DEVICE_PRIVATE_KEY_ID)).toBeUndefined();
    keyVaultFor(db).lock();
    await expect(readMetadata(result.id)).rejects.toBeInstanceOf(DeviceLockedError);
    await unlockWithPin(db, TEST_PIN);
    expect((await readMetadata(result.id)).xray.patientId).toBe('P-EARLY');
  });

  it("re-wraps an older version's captures and session, and deletes its keys from the disk", async () => {
    const db = await newDb();
    keyVaultFor(db, { scrypt: TEST_SCRYPT });
    // What the previous version left: AES-KW device key and AES-GCM token key as CryptoKeys.
    const legacy = await crypto.subtle.generateKey({ name: 'AES-KW', length: 256 }, false, ['wrapKey', 'unwrapKey']);
    await db.keys.add({ id: LEGACY_DEVICE_KEY_ID, key: legacy, createdAt: 1 });
    const dek = await generateDek();
    const metadata: CaptureMetadata = {
      xray: { patientId: 'P-OLD', capturedAt: '2026-11-27T08:15:00Z', bodyPart: 'CHEST', view: 'PA' },
    };
    await db.captures.add({
      id: 'old-1',
      status: 'queued',
      priority: 'routine',
      createdAt: 1,
      updatedAt: 1,
      contentType: 'image/png',
      plaintextSize: 1,
      ciphertextSize: 1,
      sha256: '00',
      wrappedDek: await wrapKeyAesKw(dek, legacy),
      keyId: LEGACY_DEVICE_KEY_ID,
      encryptedMetadata: await encryptBytes(dek, new TextEncoder().encode(JSON.stringify(metadata))),
      attempts: 0,
    });
    const token = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
    await db.keys.add({ id: LEGACY_TOKEN_KEY_ID, key: token, createdAt: 1 });
    const iv = new Uint8Array(12);
    const sealed = new Uint8Array(
      await crypto.subtle.encrypt(
        { name: 'AES-GCM', iv, additionalData: new TextEncoder().encode('xray-edge session v1') },
        token,
        new TextEncoder().encode(JSON.stringify({ refreshToken: 'rt-OLD', sub: 'pat', name: 'Pat' })),
      ),
    );
    await db.settings.put({
      key: 'session',
      value: { issuer: 'https://idp', keyId: LEGACY_TOKEN_KEY_ID, iv, sealed, savedAt: 1 },
    });

    await setUpPin(db, TEST_PIN);
    expect(await db.keys.get(LEGACY_DEVICE_KEY_ID)).toBeUndefined();
    expect(await db.keys.get(LEGACY_TOKEN_KEY_ID)).toBeUndefined();
    expect((await db.captures.get('old-1'))?.keyId).toBe(DEVICE_KEY_ID);
    keyVaultFor(db).lock();
    expect(await loadSession(db)).toBeUndefined();
    await unlockWithPin(db, TEST_PIN);
    expect((await createCaptureService({ db }).readMetadata('old-1')).xray.patientId).toBe('P-OLD');
    expect(await loadSession(db)).toEqual({ issuer: 'https://idp', refreshToken: 'rt-OLD', sub: 'pat', name: 'Pat' });
  });

  it('a sign-in before the PIN is kept in memory only, and stored sealed once the PIN is set', async () => {
    const db = await newDb();
    keyVaultFor(db, { scrypt: TEST_SCRYPT });
    const session = { issuer: 'https://idp', refreshToken: 'rt-PENDING-42', sub: 'pat', name: 'Pat' };
    await saveSession(db, session);
    expect(await db.settings.get('session')).toBeUndefined();
    expect(await loadSession(db)).toEqual(session);
    await setUpPin(db, TEST_PIN);
    expect(await db.settings.get('session')).toBeDefined();
    expect(await everythingStored(db)).not.toContain('rt-PENDING-42');
    keyVaultFor(db).lock();
    expect(await loadSession(db)).toBeUndefined();
    await unlockWithPin(db, TEST_PIN);
    expect(await loadSession(db)).toEqual(session);
  });
});
