import { scryptAsync } from '@noble/hashes/scrypt.js';
import type { EdgeDb } from '../db/edge.db.ts';
import type { VaultProtector, VaultRecord, WrappedKey } from '../db/edge.records.ts';

/**
 * The device's secret keys at rest. "Non-extractable" only stops script from exporting a
 * CryptoKey: Chromium writes the key's bytes into IndexedDB's LevelDB files, where a disk scan
 * finds them. So secret keys (the device's private key, the token key, the DPoP key) are stored
 * only sealed, with AES-256-GCM, under a key-encryption key (KEK) the disk alone does not give:
 *
 * - browser: scrypt of the shift PIN (N = 2^17, r = 8, p = 1: 128 MiB and about a second per
 *   guess), entered once per shift; a short PIN can still be guessed offline by someone holding
 *   the disk, and the KDF's cost is what slows that down (docs/security.md);
 * - Electron: a random KEK encrypted by the OS keyring through safeStorage (the main process,
 *   electron/keyring.safe-storage.ts), which refuses Linux's plaintext fallback.
 *
 * Unsealed keys live only in this object's memory, imported non-extractable. Wrong PINs are
 * counted and, after a few, further attempts wait (a speed bump for someone at the screen; it
 * does not slow a thief with a copy of the disk, the KDF does).
 */

export const SCRYPT_PARAMS = { N: 2 ** 17, r: 8, p: 1 } as const;
export const MIN_PIN_LENGTH = 6;
/** Wrong PINs allowed in a row before attempts are spaced out. */
export const FREE_PIN_ATTEMPTS = 5;
const FIRST_BLOCK_MS = 30_000;
const MAX_BLOCK_MS = 60 * 60_000;

export type VaultState = 'none' | 'locked' | 'unlocked';

export type VaultErrorCode = 'wrong_pin' | 'rate_limited' | 'weak_pin' | 'locked' | 'no_vault' | 'exists' | 'keyring';

/** Why the vault refused, in words for the person at the device. */
export class VaultError extends Error {
  override readonly name = 'VaultError';
  constructor(
    readonly code: VaultErrorCode,
    message: string,
    /** `rate_limited`: when the next attempt is taken (ms). */
    readonly retryAt?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The OS keyring, as the Electron preload exposes it (safeStorage in the main process). */
export interface KeyringProtector {
  /** Encrypts `secret` with the OS keyring; refuses when only a plaintext fallback is available. */
  protect(secret: Uint8Array): Promise<Uint8Array>;
  unprotect(protectedBytes: Uint8Array): Promise<Uint8Array>;
}

export interface KeyVaultOptions {
  /** scrypt cost (tests use a cheaper one; a stored vault keeps the parameters it was made with). */
  scrypt?: { N: number; r: number; p: number };
  now?: () => number;
}

const KEK_ALGORITHM = { name: 'AES-GCM', length: 256 } as const;
const CHECK_PLAINTEXT = new TextEncoder().encode('xray-edge vault check v1');
const aadOf = (id: string): Uint8Array<ArrayBuffer> => new TextEncoder().encode(`xray-edge vault v1|${id}`);
const bytes = (b: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(b);

async function seal(kek: CryptoKey, aad: Uint8Array<ArrayBuffer>, plain: Uint8Array<ArrayBuffer>) {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: aad }, kek, plain));
  return { iv, sealed };
}

const open = async (
  kek: CryptoKey,
  aad: Uint8Array<ArrayBuffer>,
  box: { iv: Uint8Array; sealed: Uint8Array },
): Promise<Uint8Array<ArrayBuffer>> =>
  new Uint8Array(
    await crypto.subtle.decrypt({ name: 'AES-GCM', iv: bytes(box.iv), additionalData: aad }, kek, bytes(box.sealed)),
  );

/** The PIN's KEK: scrypt(PIN, salt) imported as a non-extractable AES-GCM key; the derived bytes are zeroed. */
async function pinKek(pin: string, protector: Extract<VaultProtector, { kind: 'pin' }>): Promise<CryptoKey> {
  const derived = await scryptAsync(new TextEncoder().encode(pin), protector.salt, {
    N: protector.N,
    r: protector.r,
    p: protector.p,
    dkLen: 32,
    maxmem: 128 * protector.N * protector.r * protector.p + 1024 * 1024,
  });
  try {
    return await crypto.subtle.importKey('raw', bytes(derived), KEK_ALGORITHM, false, ['encrypt', 'decrypt']);
  } finally {
    derived.fill(0);
  }
}

function checkPin(pin: string): void {
  if (!/^\d+$/.test(pin) || pin.length < MIN_PIN_LENGTH)
    throw new VaultError('weak_pin', `The PIN must be at least ${MIN_PIN_LENGTH} digits.`);
}

export class KeyVault {
  readonly #db: EdgeDb;
  readonly #o: KeyVaultOptions;
  #kek: CryptoKey | undefined;
  readonly #keys = new Map<string, CryptoKey>();
  readonly #listeners = new Set<() => void>();

  constructor(db: EdgeDb, opts: KeyVaultOptions = {}) {
    this.#db = db;
    this.#o = opts;
  }

  #now(): number {
    return this.#o.now?.() ?? Date.now();
  }

  async #record(): Promise<VaultRecord | undefined> {
    const row = await this.#db.settings.get('vault');
    return row?.key === 'vault' ? row.value : undefined;
  }

  get unlocked(): boolean {
    return this.#kek !== undefined;
  }

  /** `none`: no PIN (or keyring) set up yet; `locked`: set up, keys not in memory; `unlocked`. */
  async state(): Promise<VaultState> {
    if (this.#kek) return 'unlocked';
    return (await this.#record()) ? 'locked' : 'none';
  }

  /** What protects the vault, when one exists (the unlock screen asks for a PIN only for `pin`). */
  async protectorKind(): Promise<VaultProtector['kind'] | undefined> {
    return (await this.#record())?.protector.kind;
  }

  /** When a wrong-PIN pause ends (ms), or 0. */
  async blockedUntil(): Promise<number> {
    return (await this.#record())?.blockedUntil ?? 0;
  }

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #changed(): void {
    for (const l of this.#listeners) l();
  }

  /** First sign-in in the browser: the shift PIN becomes the vault's protector. */
  async setUpWithPin(pin: string): Promise<void> {
    checkPin(pin);
    const protector: VaultProtector = {
      kind: 'pin',
      kdf: 'scrypt',
      salt: crypto.getRandomValues(new Uint8Array(16)),
      ...(this.#o.scrypt ?? SCRYPT_PARAMS),
    };
    await this.#create(protector, await pinKek(pin, protector));
  }

  /** Electron: a random KEK, kept encrypted by the OS keyring. */
  async setUpWithKeyring(keyring: KeyringProtector): Promise<void> {
    const raw = crypto.getRandomValues(new Uint8Array(32));
    try {
      const protectedKek = await keyring.protect(raw);
      const kek = await crypto.subtle.importKey('raw', raw, KEK_ALGORITHM, false, ['encrypt', 'decrypt']);
      await this.#create({ kind: 'keyring', protectedKek }, kek);
    } finally {
      raw.fill(0);
    }
  }

  async #create(protector: VaultProtector, kek: CryptoKey): Promise<void> {
    const record: VaultRecord = {
      v: 1,
      protector,
      check: await seal(kek, aadOf('check'), bytes(CHECK_PLAINTEXT)),
      keys: {},
      failures: 0,
      blockedUntil: 0,
      createdAt: this.#now(),
    };
    const created = await this.#db.transaction('rw', this.#db.settings, async () => {
      if (await this.#record()) return false;
      await this.#db.settings.put({ key: 'vault', value: record });
      return true;
    });
    if (!created) throw new VaultError('exists', 'A PIN is already set on this device: unlock it instead.');
    this.#kek = kek;
    this.#keys.clear();
    this.#changed();
  }

  /** Unlocks with the shift PIN; a wrong one is a `wrong_pin` (counted), too many a `rate_limited`. */
  async unlockWithPin(pin: string): Promise<void> {
    const record = await this.#record();
    if (!record) throw new VaultError('no_vault', 'No PIN is set on this device yet.');
    if (record.protector.kind !== 'pin') throw new VaultError('keyring', 'This device is unlocked by its keyring.');
    const now = this.#now();
    if (record.blockedUntil > now)
      throw new VaultError(
        'rate_limited',
        `Too many wrong PINs. Try again in ${Math.ceil((record.blockedUntil - now) / 1000)} s.`,
        record.blockedUntil,
      );
    const kek = await pinKek(pin, record.protector);
    if (!(await this.#opens(kek, record))) {
      const failures = record.failures + 1;
      const over = failures - FREE_PIN_ATTEMPTS;
      const blockedUntil = over >= 0 ? this.#now() + Math.min(MAX_BLOCK_MS, FIRST_BLOCK_MS * 2 ** over) : 0;
      await this.#setFailures(failures, blockedUntil);
      const left = FREE_PIN_ATTEMPTS - failures;
      throw new VaultError(
        'wrong_pin',
        left > 0
          ? `Wrong PIN. ${left} ${left === 1 ? 'attempt' : 'attempts'} left before a pause.`
          : `Wrong PIN. Try again in ${Math.ceil((blockedUntil - this.#now()) / 1000)} s.`,
        blockedUntil || undefined,
      );
    }
    if (record.failures || record.blockedUntil) await this.#setFailures(0, 0);
    await this.#unlocked(kek, record);
  }

  async #setFailures(failures: number, blockedUntil: number): Promise<void> {
    await this.#db.transaction('rw', this.#db.settings, async () => {
      const record = await this.#record();
      if (record) await this.#db.settings.put({ key: 'vault', value: { ...record, failures, blockedUntil } });
    });
  }

  async unlockWithKeyring(keyring: KeyringProtector): Promise<void> {
    const record = await this.#record();
    if (!record) throw new VaultError('no_vault', 'The keyring has not been set up on this device yet.');
    if (record.protector.kind !== 'keyring') throw new VaultError('keyring', 'This device is unlocked with a PIN.');
    const raw = await keyring.unprotect(record.protector.protectedKek);
    let kek: CryptoKey;
    try {
      kek = await crypto.subtle.importKey('raw', bytes(raw), KEK_ALGORITHM, false, ['encrypt', 'decrypt']);
    } finally {
      raw.fill(0);
    }
    if (!(await this.#opens(kek, record)))
      throw new VaultError('keyring', "The OS keyring's key does not open this device's keys.");
    await this.#unlocked(kek, record);
  }

  async #opens(kek: CryptoKey, record: VaultRecord): Promise<boolean> {
    try {
      await open(kek, aadOf('check'), record.check);
      return true;
    } catch {
      return false;
    }
  }

  async #unlocked(kek: CryptoKey, record: VaultRecord): Promise<void> {
    this.#keys.clear();
    for (const [id, wrapped] of Object.entries(record.keys)) this.#keys.set(id, await this.#import(kek, id, wrapped));
    this.#kek = kek;
    this.#changed();
  }

  async #import(kek: CryptoKey, id: string, w: WrappedKey): Promise<CryptoKey> {
    const plain = await open(kek, aadOf(id), w);
    try {
      return await crypto.subtle.importKey(w.format, plain, w.algorithm, false, w.usages);
    } finally {
      plain.fill(0);
    }
  }

  /** Forgets the KEK and every unsealed key (end of shift). */
  lock(): void {
    this.#kek = undefined;
    this.#keys.clear();
    this.#changed();
  }

  /** An unsealed key (non-extractable), or undefined while locked or when there is none. */
  get(id: string): CryptoKey | undefined {
    return this.#keys.get(id);
  }

  /**
   * Seals an extractable key under the KEK and stores it; returns the non-extractable copy kept in
   * memory. Private keys go as PKCS #8, secret keys as raw bytes. Needs the vault unlocked.
   */
  async put(id: string, key: CryptoKey): Promise<CryptoKey> {
    const kek = this.#kek;
    if (!kek) throw new VaultError('locked', 'Unlock the device first.');
    if (!key.extractable) throw new TypeError(`key ${id} must be extractable to be sealed`);
    const format = key.type === 'private' ? 'pkcs8' : 'raw';
    const plain = new Uint8Array(await crypto.subtle.exportKey(format, key));
    let wrapped: WrappedKey;
    try {
      wrapped = { format, algorithm: key.algorithm, usages: key.usages, ...(await seal(kek, aadOf(id), plain)) };
    } finally {
      plain.fill(0);
    }
    const memory = await this.#import(kek, id, wrapped);
    await this.#db.transaction('rw', this.#db.settings, async () => {
      const record = await this.#record();
      if (!record) throw new VaultError('no_vault', 'The device keys were removed meanwhile.');
      await this.#db.settings.put({ key: 'vault', value: { ...record, keys: { ...record.keys, [id]: wrapped } } });
    });
    this.#keys.set(id, memory);
    return memory;
  }

  /** Whether a sealed key `id` is stored (whether or not unlocked). */
  async has(id: string): Promise<boolean> {
    return (await this.#record())?.keys[id] !== undefined;
  }

  async remove(id: string): Promise<void> {
    this.#keys.delete(id);
    await this.#db.transaction('rw', this.#db.settings, async () => {
      const record = await this.#record();
      if (!record?.keys[id]) return;
      const { [id]: _gone, ...keys } = record.keys;
      await this.#db.settings.put({ key: 'vault', value: { ...record, keys } });
    });
  }

  /**
   * Crypto-shredding: the sealed keys and the protector's salt or keyring ciphertext are deleted,
   * so nothing sealed under them opens again, whatever PIN is tried (the remote wipe calls this).
   */
  async destroy(): Promise<void> {
    this.#kek = undefined;
    this.#keys.clear();
    await this.#db.settings.delete('vault');
    this.#changed();
  }
}

const vaults = new WeakMap<EdgeDb, KeyVault>();

/** The one vault of a database in this page (the core, the sign-in and the DPoP key share it). */
export function keyVaultFor(db: EdgeDb, opts?: KeyVaultOptions): KeyVault {
  let vault = vaults.get(db);
  if (!vault) {
    vault = new KeyVault(db, opts);
    vaults.set(db, vault);
  }
  return vault;
}
