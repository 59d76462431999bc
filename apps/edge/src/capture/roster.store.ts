import { generateDek, RosterSchema, type Roster } from '@xray/shared';
import type { AuthorizeRequest } from '../auth/server.authorizer.ts';
import { unwrapWithDeviceKey, wrapWithDeviceKey } from '../crypto/device-key.ts';
import { openJson, sealJson } from '../crypto/metadata.cipher.ts';
import type { EdgeDb } from '../db/edge.db.ts';
import { createServerApi, SignedOutError, type ServerApi } from '../sync/server.api.ts';
import { UploadError } from '../sync/uploader.ts';

export interface RosterState {
  /** The roster, decrypted in memory; undefined before the first fetch or while the device is locked. */
  roster: Roster | undefined;
  /** When the kept roster was fetched (ms), readable even while locked. */
  fetchedAt: number | undefined;
  /** The last refresh's failure, in words. */
  problem: string | undefined;
}

export interface RosterStoreOptions {
  db: EdgeDb;
  baseUrl: string;
  authorize: AuthorizeRequest;
  fetch?: typeof fetch;
  /** Background refresh interval while online (default 5 minutes). */
  refreshMs?: number;
}

/**
 * The patients and open consultations a paramedic may need (GET /roster), kept on the device for
 * offline search: sealed (XRE1) under a fresh data key wrapped by the device key, like a capture's
 * metadata, so IndexedDB never holds a name in clear and reading it needs the device unlocked.
 * Refreshed in the background while online and signed in.
 */
export class RosterStore {
  #state: RosterState = { roster: undefined, fetchedAt: undefined, problem: undefined };
  readonly #listeners = new Set<() => void>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #refreshing: Promise<void> | undefined;
  #again: Promise<void> | undefined;

  readonly #server: ServerApi;

  constructor(private readonly opts: RosterStoreOptions) {
    this.#server = createServerApi(opts);
  }

  get state(): RosterState {
    return this.#state;
  }

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #set(patch: Partial<RosterState>): void {
    this.#state = { ...this.#state, ...patch };
    for (const l of this.#listeners) l();
  }

  /** Opens the kept roster (no network). Stays without one while the device is locked. */
  async load(): Promise<void> {
    const row = await this.opts.db.settings.get('roster');
    if (row?.key !== 'roster') return;
    const { wrappedDek, keyId, sealed, fetchedAt } = row.value;
    try {
      const dek = await unwrapWithDeviceKey(this.opts.db, wrappedDek, keyId);
      const roster = RosterSchema.parse(await openJson(dek, sealed));
      this.#set({ roster, fetchedAt });
    } catch {
      // Locked (or a key from before a reset): the names stay sealed; the next refresh replaces it.
      this.#set({ roster: undefined, fetchedAt });
    }
  }

  /** Fetches the roster now and keeps it; a failure keeps the previous one. */
  refresh(): Promise<void> {
    if (this.#refreshing) {
      // Asked again while one runs (a sign-in as someone else while the last person's refresh is in
      // flight): joining it would keep that person's answer; one more runs after it, as whoever is
      // signed in then.
      this.#again ??= this.#refreshing
        .catch(() => undefined)
        .then(() => {
          this.#again = undefined;
          return this.refresh();
        });
      return this.#again;
    }
    this.#refreshing = this.#refresh().finally(() => (this.#refreshing = undefined));
    return this.#refreshing;
  }

  async #refresh(): Promise<void> {
    let roster: Roster;
    try {
      roster = await this.#server.roster(this.opts.authorize, AbortSignal.timeout(15_000));
    } catch (err) {
      if (err instanceof SignedOutError) return;
      if (!(err instanceof UploadError)) throw err;
      const status = err.failure.kind === 'http' ? err.failure.status : undefined;
      if (status === 401 || status === 403) {
        // The person signed in now may not have the list (a doctor, another role): the one kept
        // for the previous person goes, on the device and in memory.
        await this.clear();
        this.#set({ problem: 'The patient list is not available to the person signed in.' });
        return;
      }
      this.#set({
        problem:
          status === undefined
            ? 'The patient list could not be refreshed (no answer).'
            : `The patient list could not be refreshed (the server answered ${status}).`,
      });
      return;
    }
    const dek = await generateDek();
    const { wrapped, keyId } = await wrapWithDeviceKey(this.opts.db, dek);
    const sealed = await sealJson(dek, roster);
    const fetchedAt = Date.parse(roster.generatedAt) || Date.now();
    await this.opts.db.settings.put({ key: 'roster', value: { wrappedDek: wrapped, keyId, sealed, fetchedAt } });
    this.#set({ roster, fetchedAt, problem: undefined });
  }

  /** Forgets the kept roster (device and memory): a sign-out, or a person not allowed it. */
  async clear(): Promise<void> {
    await this.opts.db.settings.delete('roster');
    this.#set({ roster: undefined, fetchedAt: undefined });
  }

  /** Loads the kept roster, refreshes it now and then while online; returns the stop function. */
  start(): () => void {
    const refresh = (): void => {
      if (navigator.onLine) void this.refresh().catch((err: unknown) => console.error('roster refresh', err));
    };
    void this.load().then(refresh);
    globalThis.addEventListener('online', refresh);
    this.#timer = setInterval(refresh, this.opts.refreshMs ?? 5 * 60_000);
    return () => {
      globalThis.removeEventListener('online', refresh);
      clearInterval(this.#timer);
    };
  }
}
