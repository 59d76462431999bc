import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  BASIC_TEXT_MESSAGE,
  KeyringUnavailableError,
  createKeyring,
  type SafeStorageLike,
} from './keyring.safe-storage.ts';

/**
 * A stand-in that behaves like Electron's safeStorage: AES-GCM under a key the "OS" holds,
 * decryptString throws on bytes it did not make, and Linux reports its selected backend.
 */
function fakeSafeStorage(backend: string, available = true): SafeStorageLike & { osKey: Buffer } {
  const osKey = randomBytes(32);
  return {
    osKey,
    isEncryptionAvailable: () => available,
    getSelectedStorageBackend: () => backend,
    encryptString(plain) {
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', osKey, iv);
      const body = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
      return Buffer.concat([Buffer.from('v11'), iv, c.getAuthTag(), body]);
    },
    decryptString(enc) {
      if (enc.subarray(0, 3).toString() !== 'v11') throw new Error('Error while decrypting the ciphertext provided');
      const d = createDecipheriv('aes-256-gcm', osKey, enc.subarray(3, 15));
      d.setAuthTag(enc.subarray(15, 31));
      return Buffer.concat([d.update(enc.subarray(31)), d.final()]).toString('utf8');
    },
  };
}

describe('OS keyring through safeStorage', () => {
  it('protects the vault key with the keyring: the stored bytes do not contain it, and it comes back', () => {
    const safe = fakeSafeStorage('gnome_libsecret');
    const keyring = createKeyring(safe, 'linux');
    const secret = new Uint8Array(randomBytes(32));
    const stored = keyring.protect(secret);
    expect(Buffer.from(stored).includes(Buffer.from(secret))).toBe(false);
    expect(Buffer.from(stored).includes(Buffer.from(Buffer.from(secret).toString('base64')))).toBe(false);
    expect(keyring.unprotect(stored)).toEqual(secret);
    // Another machine's (or user's) keyring cannot open it.
    expect(() => createKeyring(fakeSafeStorage('gnome_libsecret'), 'linux').unprotect(stored)).toThrow(
      KeyringUnavailableError,
    );
  });

  it("refuses Linux's basic_text fallback with a message that says what to do, for protect and unprotect", () => {
    const keyring = createKeyring(fakeSafeStorage('basic_text'), 'linux');
    expect(() => keyring.protect(new Uint8Array(32))).toThrow(BASIC_TEXT_MESSAGE);
    expect(() => keyring.unprotect(new Uint8Array(40))).toThrow(KeyringUnavailableError);
    expect(BASIC_TEXT_MESSAGE).toMatch(/keyring/i);
  });

  it('refuses an unknown backend (asked before the app is ready) and no encryption at all', () => {
    expect(() => createKeyring(fakeSafeStorage('unknown'), 'linux').protect(new Uint8Array(32))).toThrow(
      /not known yet/,
    );
    expect(() => createKeyring(fakeSafeStorage('kwallet5', false), 'linux').protect(new Uint8Array(32))).toThrow(
      /not available/,
    );
    // Windows (DPAPI) and macOS (Keychain) have no plaintext fallback and no backend to ask.
    const win = fakeSafeStorage('basic_text');
    const secret = new Uint8Array(randomBytes(32));
    expect(createKeyring(win, 'win32').unprotect(createKeyring(win, 'win32').protect(secret))).toEqual(secret);
  });
});
