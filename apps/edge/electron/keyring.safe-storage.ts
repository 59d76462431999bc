/**
 * The OS keyring for the edge app's key vault, through Electron's `safeStorage` (DPAPI on
 * Windows, the Keychain on macOS, libsecret or KWallet on Linux). The renderer's vault keeps a
 * random key-encryption key that only this can decrypt (src/crypto/key.vault.ts).
 *
 * On Linux without a keyring, safeStorage falls back to `basic_text`: "encryption" with a
 * hard-coded password, which protects nothing against someone with the disk. That is refused,
 * as is a backend not known yet (`unknown`, before the app is ready): the app then says why and
 * keeps no keys, rather than pretending. A plain module taking safeStorage as a parameter, so it
 * is tested in Node with a stand-in (the Electron binary cannot run in CI).
 */

/** The part of Electron's `safeStorage` used here. */
export interface SafeStorageLike {
  isEncryptionAvailable(): boolean;
  encryptString(plainText: string): Buffer;
  decryptString(encrypted: Buffer): string;
  /** Linux only. */
  getSelectedStorageBackend?(): string;
}

export class KeyringUnavailableError extends Error {
  override readonly name = 'KeyringUnavailableError';
}

export const BASIC_TEXT_MESSAGE =
  'No OS keyring is available (Electron safeStorage would fall back to "basic_text", a fixed ' +
  'password that does not protect the keys on disk). Install and unlock a keyring (GNOME Keyring or ' +
  'KWallet) for this user, or start the app with --password-store=gnome-libsecret or kwallet5.';

/** Refuses a keyring that would not protect the keys: none at all, or Linux's plaintext fallback. */
export function assertKeyringUsable(safe: SafeStorageLike, platform: NodeJS.Platform = process.platform): void {
  if (platform === 'linux') {
    const backend = safe.getSelectedStorageBackend?.() ?? 'unknown';
    if (backend === 'basic_text') throw new KeyringUnavailableError(BASIC_TEXT_MESSAGE);
    if (backend === 'unknown')
      throw new KeyringUnavailableError('The OS keyring is not known yet: ask for it after the app is ready.');
  }
  if (!safe.isEncryptionAvailable())
    throw new KeyringUnavailableError('The OS keyring is not available: the device keys cannot be protected.');
}

export interface Keyring {
  protect(secret: Uint8Array): Uint8Array;
  unprotect(protectedBytes: Uint8Array): Uint8Array;
}

/** Encrypts and decrypts the vault's key with the OS keyring; every call checks the backend again. */
export function createKeyring(safe: SafeStorageLike, platform: NodeJS.Platform = process.platform): Keyring {
  return {
    protect(secret) {
      assertKeyringUsable(safe, platform);
      return new Uint8Array(safe.encryptString(Buffer.from(secret).toString('base64')));
    },
    unprotect(protectedBytes) {
      assertKeyringUsable(safe, platform);
      let text: string;
      try {
        text = safe.decryptString(Buffer.from(protectedBytes));
      } catch (cause) {
        throw new KeyringUnavailableError(
          "The OS keyring could not decrypt this device's key (another user, or the keyring was reset).",
          { cause },
        );
      }
      return new Uint8Array(Buffer.from(text, 'base64'));
    },
  };
}
