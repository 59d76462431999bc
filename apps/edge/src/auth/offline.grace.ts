import type { KeyVault } from '../crypto/key.vault.ts';
import type { EdgeDb } from '../db/edge.db.ts';

/** Used when the server does not say (`offlineGraceMs` in /edge-config). */
export const DEFAULT_OFFLINE_GRACE_MS = 12 * 60 * 60 * 1000;

/** Why patient details are not shown now; undefined when they may be. */
export type DetailsLock = 'device-locked' | 'offline-too-long';

/**
 * The offline grace period: a lost tablet that never reaches the server again stops showing
 * patient details after `graceMs`. Details (the queue's patients, the patient list) are shown
 * only while the device is unlocked AND the server answered within the grace period; after that
 * the app asks for a sign-in, which reaches the server again. Capturing is never gated here.
 */
export class PatientDetailsGate {
  readonly #db: EdgeDb;
  readonly #vault: KeyVault;
  readonly #graceMs: () => number;
  readonly #now: () => number;
  readonly #signedIn: () => boolean;
  #lastContact: number | undefined;
  readonly #listeners = new Set<() => void>();
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(opts: {
    db: EdgeDb;
    vault: KeyVault;
    graceMs: () => number | undefined;
    now?: () => number;
    /** Whether a person is signed in on this device now (default: always). */
    signedIn?: () => boolean;
  }) {
    this.#db = opts.db;
    this.#vault = opts.vault;
    this.#graceMs = () => opts.graceMs() ?? DEFAULT_OFFLINE_GRACE_MS;
    this.#now = opts.now ?? (() => Date.now());
    this.#signedIn = opts.signedIn ?? (() => true);
    opts.vault.subscribe(() => this.#changed());
  }

  /** Reads when the server last answered (kept in IndexedDB: a restart does not reset the clock). */
  async load(): Promise<void> {
    const row = await this.#db.settings.get('serverContact');
    this.#lastContact = row?.key === 'serverContact' ? row.value.at : undefined;
    this.#changed();
  }

  /**
   * The server answered just now. It counts only while someone is signed in: /edge-config answers
   * anyone, so a stolen tablet whose sign-in ended (it can no longer learn that it was revoked,
   * nor be wiped) would otherwise keep its details open on any network forever. Signed in, its
   * requests meet `device_revoked` and wipe it; signed out, the period runs out and a person
   * must sign in.
   */
  async recordContact(): Promise<void> {
    if (!this.#signedIn()) return;
    const at = this.#now();
    this.#lastContact = at;
    await this.#db.settings.put({ key: 'serverContact', value: { at } });
    this.#changed();
  }

  get lastContact(): number | undefined {
    return this.#lastContact;
  }

  /** When the grace period ends (ms), or undefined before any contact. */
  get expiresAt(): number | undefined {
    return this.#lastContact === undefined ? undefined : this.#lastContact + this.#graceMs();
  }

  get lock(): DetailsLock | undefined {
    if (!this.#vault.unlocked) return 'device-locked';
    const end = this.expiresAt;
    if (end === undefined || this.#now() >= end) return 'offline-too-long';
    return undefined;
  }

  get allowed(): boolean {
    return this.lock === undefined;
  }

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #changed(): void {
    // Wake up when the period ends, so the details close by themselves.
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const end = this.expiresAt;
    if (end !== undefined && end > this.#now())
      this.#timer = setTimeout(() => this.#changed(), Math.min(end - this.#now() + 10, 2 ** 31 - 1));
    for (const l of this.#listeners) l();
  }
}
