import { unwrapKeyAesKw, type UploadJwks } from '@xray/shared';
import { DomainError } from '../errors.ts';
import { loadUploadKeys } from './upload-keys.ts';
import {
  importRecordKey,
  importWrapKey,
  kekCheckValue,
  openBoundWrap,
  openRecordBytes,
  sealRecordBytes,
  sealBoundWrap,
  wrapFormatOf,
  type DekBinding,
} from './dek-wrap.ts';

export type { DekBinding } from './dek-wrap.ts';

export interface KekSetting {
  id: string;
  /** base64 of 32 random bytes. */
  key: string;
}

export interface KeySettings {
  keks: KekSetting[];
  /** The KEK id new X-rays are wrapped with. */
  currentKekId: string;
  /** PKCS#8 or PKCS#1 PEM of the RSA key edges wrap data keys for (at least 3072 bits). */
  uploadPrivateKeyPem: string;
  /**
   * The upload key before the last rotation: still published and accepted (a grace period). One
   * under 3072 bits only signs the endorsement of the current key (not published, never unwraps).
   */
  uploadPreviousPrivateKeyPem?: string;
}

export type { UploadJwk, UploadJwks } from '@xray/shared';

/**
 * Keys behind the envelope encryption: the KEKs that wrap each X-ray's data key at rest, and
 * the RSA key pair whose public half edges use to send a data key with an upload.
 * The only implementation reads them from configuration; a KMS would be a second one.
 */
export interface KeyService {
  readonly currentKekId: string;
  /** The public upload keys as a JWKS (current first, then the previous one), for GET /keys/upload. */
  uploadJwks(): UploadJwks;
  /** Unwraps a data key an edge wrapped for our current or previous upload key. */
  unwrapUploadedDek(wrapped: Uint8Array, kid: string): Promise<CryptoKey>;
  /**
   * Wraps an (extractable) data key under KEK `kekId` (default: the current one), bound to the
   * X-ray and object it belongs to (see dek-wrap.ts). Refused for a KEK whose check value has not
   * been confirmed against the database (confirmKek).
   */
  wrapDek(dek: CryptoKey, binding: DekBinding, kekId?: string): Promise<{ wrapped: Uint8Array; kekId: string }>;
  /**
   * Unwraps a stored data key. A bound wrap opens only for its own X-ray, object and KEK id;
   * anything that does not open is a DomainError `integrity_failed`. Non-extractable unless asked:
   * reading needs no key bytes (node:crypto takes the CryptoKey itself).
   */
  unwrapDek(
    wrapped: Uint8Array,
    kekId: string,
    binding: DekBinding,
    opts?: { extractable?: boolean },
  ): Promise<CryptoKey>;
  hasKek(id: string): boolean;
  /** The configured KEK ids. */
  kekIds(): string[];
  /** The key check value of a configured KEK (to compare with the one stored for its id). */
  checkValue(id: string): Buffer;
  /** Records whether the KEK matched the check value stored for its id; wraps under it are refused until it has. */
  confirmKek(id: string, matched: boolean): void;
  /**
   * The KEK ids under which only bound wraps open from now on (the database's kek_bound_only, as
   * last read; replaces the previous set): an unbound (legacy AES-KW) wrap under one of them is an
   * integrity error.
   */
  setBoundOnly(kekIds: Iterable<string>): void;
  /**
   * Seals an X-ray's recovery record under KEK `kekId` (default: the current one), bound to its X-ray
   * and object (dek-wrap.ts, recordAad). Refused, as wrapDek is, for a KEK not confirmed.
   */
  sealRecord(
    plaintext: Uint8Array,
    binding: DekBinding,
    kekId?: string,
  ): Promise<{ sealed: Uint8Array; kekId: string }>;
  /** Opens a recovery record; anything that does not open is a DomainError `integrity_failed`. */
  openRecord(sealed: Uint8Array, kekId: string, binding: DekBinding): Promise<Uint8Array>;
}

/** One configured KEK: AES-KW for legacy wraps, its GCM subkey for bound ones, its check value. */
interface Kek {
  legacy: CryptoKey;
  wrap: CryptoKey;
  /** The recovery records' sealing subkey. */
  record: CryptoKey;
  checkValue: Buffer;
  confirmed: boolean;
}

async function importKek(id: string, base64: string): Promise<Kek> {
  // The configured base64 string cannot be zeroed (JavaScript strings are immutable); its bytes are.
  const raw = Buffer.from(base64, 'base64');
  try {
    if (raw.length !== 32) throw new Error(`KEK ${id} must be 32 bytes (base64), not ${raw.length}`);
    return {
      legacy: await crypto.subtle.importKey('raw', raw, 'AES-KW', false, ['unwrapKey']),
      wrap: await importWrapKey(raw),
      record: await importRecordKey(raw),
      checkValue: kekCheckValue(raw, id),
      confirmed: false,
    };
  } finally {
    raw.fill(0);
  }
}

export async function createConfigKeyService(
  settings: KeySettings,
  opts: { warn?: (message: string) => void } = {},
): Promise<KeyService> {
  const keks = new Map<string, Kek>();
  for (const k of settings.keks) keks.set(k.id, await importKek(k.id, k.key));
  if (!keks.has(settings.currentKekId))
    throw new Error(`The current KEK id ${settings.currentKekId} is not among the configured KEKs`);

  const upload = await loadUploadKeys(settings.uploadPrivateKeyPem, settings.uploadPreviousPrivateKeyPem, opts);

  const kek = (id: string): Kek => {
    const k = keks.get(id);
    if (!k)
      throw new DomainError('internal', `KEK ${id} is not configured; add it to KEK to read X-rays wrapped with it.`);
    return k;
  };

  /** KEK ids under which unbound wraps are refused (kek_bound_only). */
  let boundOnly = new Set<string>();

  const unwrapStored = async (
    wrapped: Uint8Array,
    kekId: string,
    binding: DekBinding,
    extractable: boolean,
  ): Promise<CryptoKey> => {
    const k = kek(kekId);
    const format = wrapFormatOf(wrapped);
    try {
      if (format === 'bound-v1') return await openBoundWrap(wrapped, k.wrap, kekId, binding, extractable);
      if (format === 'aes-kw' && !boundOnly.has(kekId)) return await unwrapKeyAesKw(wrapped, k.legacy, { extractable });
    } catch (err) {
      throw new DomainError(
        'integrity_failed',
        `The data key stored for X-ray ${binding.xrayId} does not open for it: the row's wrapped key, object or ` +
          'KEK id was changed, or the KEK is not the one it was wrapped with. Nothing of it is served.',
        undefined,
        { cause: err },
      );
    }
    if (format === 'aes-kw') {
      throw new DomainError(
        'integrity_failed',
        `The data key stored for X-ray ${binding.xrayId} is an unbound (legacy AES-KW) wrap under KEK ${kekId}, ` +
          'which takes bound wraps only since every X-ray was bound (rotate-kek --finish): an old wrap put on ' +
          'this row. Nothing of it is served.',
      );
    }
    throw new DomainError(
      'integrity_failed',
      `The data key stored for X-ray ${binding.xrayId} is in no known wrap format (${wrapped.length} bytes).`,
    );
  };

  return {
    currentKekId: settings.currentKekId,
    uploadJwks: () => upload.jwks,
    unwrapUploadedDek: (wrapped, kid) => upload.unwrap(wrapped, kid),
    async wrapDek(dek, binding, kekId = settings.currentKekId) {
      const k = kek(kekId);
      if (!k.confirmed) {
        throw new DomainError(
          'unavailable',
          `KEK ${kekId} has not been confirmed against the check value stored for it; no data key is wrapped under it.`,
        );
      }
      return { wrapped: await sealBoundWrap(dek, k.wrap, kekId, binding), kekId };
    },
    unwrapDek: (wrapped, kekId, binding, opts) => unwrapStored(wrapped, kekId, binding, opts?.extractable ?? false),
    hasKek: (id) => keks.has(id),
    kekIds: () => [...keks.keys()],
    checkValue: (id) => Buffer.from(kek(id).checkValue),
    confirmKek(id, matched) {
      kek(id).confirmed = matched;
    },
    setBoundOnly(kekIds) {
      boundOnly = new Set(kekIds);
    },
    async sealRecord(plaintext, binding, kekId = settings.currentKekId) {
      const k = kek(kekId);
      if (!k.confirmed) {
        throw new DomainError(
          'unavailable',
          `KEK ${kekId} has not been confirmed against the check value stored for it; no record is sealed under it.`,
        );
      }
      return { sealed: await sealRecordBytes(plaintext, k.record, kekId, binding), kekId };
    },
    async openRecord(sealed, kekId, binding) {
      const k = kek(kekId);
      try {
        return await openRecordBytes(sealed, k.record, kekId, binding);
      } catch (err) {
        throw new DomainError(
          'integrity_failed',
          `The recovery record of X-ray ${binding.xrayId} (object ${binding.objectKey}) does not open under KEK ${kekId}: ` +
            'it was altered, copied from another object, or sealed under another key.',
          undefined,
          { cause: err },
        );
      }
    },
  };
}
