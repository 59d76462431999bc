import type { ContentType, DicomTags, FieldError, Link, Priority, XrayMetadataInput } from '@xray/shared';

type LinkStatus = Link['status'];

/**
 * What the edge app keeps in IndexedDB. Fields outside `encryptedMetadata` and the ciphertext
 * blob are what the queue needs to run (ids, states, sizes, times) and carry no patient data.
 */

/** Queue states; `retrying` carries `nextAttemptAt`, `needs-attention` carries `lastError`. */
export const CAPTURE_STATUSES = ['queued', 'uploading', 'verifying', 'synced', 'retrying', 'needs-attention'] as const;
export type CaptureStatus = (typeof CAPTURE_STATUSES)[number];

/** The last thing that went wrong for a capture, as the person at the device should read it. */
export interface CaptureError {
  message: string;
  /** HTTP status, when a server answered. */
  status?: number;
  /** The problem's `code` (RFC 9457 body), or a local one such as `network`. */
  code?: string;
  /** Field problems from the server's `errors[]`. */
  fields?: FieldError[];
  at: number;
}

export interface CaptureRecord {
  /** Client-chosen UUID, also the X-ray's id on the server. */
  id: string;
  status: CaptureStatus;
  /** Urgent captures upload first; not patient data. */
  priority: Priority;
  /** When the capture was stored on this device (epoch ms). */
  createdAt: number;
  updatedAt: number;
  contentType: ContentType;
  plaintextSize: number;
  ciphertextSize: number;
  /** Lowercase hex SHA-256 of the original file: what the server must confirm. */
  sha256: string;
  /**
   * The X-ray's data key, wrapped by the device key `keyId`: ECDH-ES to the device's public key
   * (`device-ecdh`, so capturing needs no secret), or AES-KW (`device`, before key protection).
   */
  wrappedDek: Uint8Array;
  keyId: string;
  /** XRE1(DEK, JSON of `CaptureMetadata`): every field that says who or what the X-ray is about. */
  encryptedMetadata: Uint8Array;
  /**
   * While uploading: bytes of ciphertext the server has accepted or that are in flight (`sent`), and
   * of those the server confirmed (`accepted`). While waiting again (a stall, a cut, a pause for an
   * urgent capture) `sent` is the kept, confirmed part the next attempt resumes from.
   */
  progress?: { sent: number; total: number; accepted?: number };
  /** Failed attempts since the last one that made progress. */
  attempts: number;
  /** `retrying`: when the next attempt starts (epoch ms). */
  nextAttemptAt?: number;
  lastError?: CaptureError;
  /** When the server confirmed the id and sha256. */
  syncedAt?: number;
  /**
   * After sync: the server's patient link for this X-ray (GET /xrays/{id}), status and reason
   * codes only (no patient data), so the queue can say "Sent — patient not found: fix"; and the
   * `etag` of the version read (no patient data either), which the fix sends as If-Match so it
   * never overwrites a correction made on the server meanwhile.
   */
  serverLink?: { status: LinkStatus; reason?: string; checkedAt: number; etag?: string };
  /** v2: when the local ciphertext of a synced capture may be removed (index for the purge). */
  purgeAfter?: number;
  /** When the local ciphertext was removed (the record stays, for the history). */
  purgedAt?: number;
}

/** The metadata of a capture: sent in Upload-Metadata, stored only encrypted. */
export interface CaptureMetadata {
  /** The X-ray fields the server receives (without `id`, `sha256`, `priority`: those live on the record). */
  xray: Omit<XrayMetadataInput, 'id' | 'sha256' | 'priority'>;
  /** Tags read from a DICOM file, kept to show and to prefill corrections. */
  dicom?: DicomTags;
  /** The name of the file it came from (may name the patient). */
  fileName?: string;
}

/** The XRE1 ciphertext of a capture's file, in its own table so listing captures never loads it. */
export interface BlobRecord {
  captureId: string;
  ciphertext: Blob;
}

/**
 * tus-js-client `urlStorage` entries: where an unfinished upload lives on the server. Only what
 * resuming needs is kept; tus's copy of the Upload-Metadata (patient data) is not.
 */
export interface UploadUrlRecord {
  key: string;
  fingerprint: string;
  uploadUrl: string | null;
  size: number | null;
  creationTime: string;
}

/**
 * WebCrypto keys kept as CryptoKey objects: the device's public key, and (before a vault exists,
 * or from older versions) secret keys, whose bytes Chromium writes to disk however they are flagged.
 */
export interface KeyRecord {
  id: string;
  key: CryptoKey;
  createdAt: number;
}

/** The server's public upload key, as fetched from /keys/upload. */
export interface ServerKeySetting {
  kid: string;
  jwk: JsonWebKey;
  fetchedAt: number;
  /**
   * The upload keys this device trusts (RFC 7638 thumbprint and public JWK), newest first: pinned
   * on first use, extended only by a key a pinned one has signed; an older pin is retired once the
   * device has moved past it and the key set no longer lists it. Absent in settings from before
   * pinning: the stored key is then the one pinned (if it is at least 3072 bits, e = 65537).
   */
  pins?: PinnedUploadKey[];
}

export interface PinnedUploadKey {
  thumbprint: string;
  jwk: { kty: 'RSA'; n: string; e: string };
  /** When it was pinned (ms); absent in pins stored before retirement, which were kept oldest first. */
  pinnedAt?: number;
}

/** What the sync engine is doing as a whole, for the UI. */
export type EngineState = 'stopped' | 'idle' | 'syncing' | 'offline' | 'waiting-for-token';
export interface EngineStatus {
  state: EngineState;
  /** Why, in words (e.g. the sign-in expired). */
  detail?: string;
  updatedAt: number;
}

/**
 * The signed-in user's session: the refresh token (and who it belongs to) sealed with AES-GCM
 * under the non-extractable token key, so the IndexedDB files alone never give a usable token.
 */
export interface SealedSession {
  /** The issuer the refresh token is for: a session from another issuer is not used. */
  issuer: string;
  /** The key that sealed it: `token.aes` in the vault, or `token` in `keys` (before key protection). */
  keyId: string;
  iv: Uint8Array;
  /** AES-GCM of the JSON `{ refreshToken, sub, name }`. */
  sealed: Uint8Array;
  savedAt: number;
}

/** How the vault's key-encryption key (KEK) is obtained; see crypto/key.vault.ts. */
export type VaultProtector =
  /** Browser: scrypt of the shift PIN. */
  | { kind: 'pin'; kdf: 'scrypt'; salt: Uint8Array; N: number; r: number; p: number }
  /** Electron: a random KEK, encrypted by the OS keyring (safeStorage); only that ciphertext is here. */
  | { kind: 'keyring'; protectedKek: Uint8Array };

/** A key's bytes sealed with AES-256-GCM under the vault's KEK, with what importing them needs. */
export interface WrappedKey {
  format: 'raw' | 'pkcs8';
  algorithm: AlgorithmIdentifier | RsaHashedImportParams | EcKeyImportParams | AesKeyAlgorithm;
  usages: KeyUsage[];
  iv: Uint8Array;
  sealed: Uint8Array;
}

/**
 * The device's secret keys at rest: each sealed under a KEK that the disk alone does not give
 * (the shift PIN, or the OS keyring). Unsealed, they live only in memory, non-extractable.
 */
export interface VaultRecord {
  v: 1;
  protector: VaultProtector;
  /** AES-GCM of a constant under the KEK: tells a wrong PIN from a damaged key. */
  check: { iv: Uint8Array; sealed: Uint8Array };
  keys: Record<string, WrappedKey>;
  /** Wrong PINs in a row, and until when no attempt is taken (ms). */
  failures: number;
  blockedUntil: number;
  createdAt: number;
}

/** Small singletons, one row each, told apart by `key`. */
export type SettingRecord =
  | { key: 'serverKey'; value: ServerKeySetting }
  | { key: 'engine'; value: EngineStatus }
  | { key: 'session'; value: SealedSession }
  | { key: 'vault'; value: VaultRecord }
  /** The last time the sync server answered (ms): the offline grace period runs from it. */
  | { key: 'serverContact'; value: { at: number } }
  /** The patient roster (GET /roster) kept for offline search: sealed like a capture's metadata. */
  | { key: 'roster'; value: SealedRoster }
  /** This install as the sync server enrolled it (POST /devices): its id and DPoP key thumbprint. */
  | { key: 'device'; value: DeviceEnrollment }
  /** Left by a remote wipe (the device was revoked): why, and what was lost. No secret, no patient data. */
  | { key: 'wiped'; value: WipeNotice };

export interface DeviceEnrollment {
  id: string;
  /** RFC 7638 thumbprint of the DPoP key it was enrolled with. */
  jkt: string;
  enrolledAt: number;
}

export interface WipeNotice {
  at: number;
  /** The server's words (problem detail). */
  reason: string;
  /** Captures not yet on the server when the device wiped itself: destroyed with it. */
  lostCaptures: number;
  /** Whether the server acknowledged the wipe report. */
  reported: boolean;
}

/** The roster's JSON as XRE1 under its own data key, wrapped by the device key like a capture's. */
export interface SealedRoster {
  wrappedDek: Uint8Array;
  keyId: string;
  sealed: Uint8Array;
  /** When the server produced it (ms); not patient data. */
  fetchedAt: number;
}
