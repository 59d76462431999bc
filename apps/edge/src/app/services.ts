import type { Roster } from '@xray/shared';
import { createContext, useContext, useEffect, useState, useSyncExternalStore } from 'react';
import type { AuthSession, AuthState } from '../auth/auth.session.ts';
import type { DetailsLock, PatientDetailsGate } from '../auth/offline.grace.ts';
import type { KeyVault, VaultState } from '../crypto/key.vault.ts';
import type { RosterState, RosterStore } from '../capture/roster.store.ts';
import type { SentLinks } from '../sync/sent-link.ts';
import type { AppSettings } from '../config/app-settings.ts';
import type { ServerConfigSource } from '../config/server-config.ts';
import type { EngineStatus } from '../db/edge.records.ts';
import type { CaptureSummary, EdgeCore } from '../edge.core.ts';
import type { XrayShellApi } from '../shell/shell.api.ts';
import type { AppUpdates } from './service-worker.ts';

/** Everything the screens use, made once at start (main.tsx) and handed down by context. */
export interface AppServices {
  core: EdgeCore;
  auth: AuthSession;
  settings: AppSettings;
  serverConfig: ServerConfigSource;
  updates: AppUpdates;
  shell: XrayShellApi | undefined;
  deviceId: string;
  storage: Pick<Storage, 'getItem' | 'setItem'>;
  /** Patient details are shown only while this allows (device unlocked, server reached recently). */
  gate: PatientDetailsGate;
  /** Electron: why the OS keyring could not protect the keys (the app then asks for a PIN). */
  keyringProblem?: string;
  /** The patient roster kept encrypted on the device for offline search (GET /roster). */
  roster: RosterStore;
  /** After sync: the server's patient link per capture, and the fix (PATCH) from the device. */
  sentLinks: SentLinks;
}

export const ServicesContext = createContext<AppServices | null>(null);

export function useServices(): AppServices {
  const services = useContext(ServicesContext);
  if (!services) throw new Error('useServices outside <ServicesContext.Provider>');
  return services;
}

const subscribeOnline = (onChange: () => void): (() => void) => {
  globalThis.addEventListener('online', onChange);
  globalThis.addEventListener('offline', onChange);
  return () => {
    globalThis.removeEventListener('online', onChange);
    globalThis.removeEventListener('offline', onChange);
  };
};

/** navigator.onLine, re-rendering on every change. */
export const useOnline = (): boolean => useSyncExternalStore(subscribeOnline, () => navigator.onLine);

export function useAuthState(auth: AuthSession): AuthState {
  return useSyncExternalStore(
    (l) => auth.subscribe(l),
    () => auth.state,
  );
}

export function useUpdateAvailable(updates: AppUpdates): boolean {
  return useSyncExternalStore(
    (l) => updates.subscribe(l),
    () => updates.available,
  );
}

/** The queue, live (Dexie liveQuery): every state and progress change. */
export function useCaptures(core: EdgeCore): CaptureSummary[] | undefined {
  const [captures, setCaptures] = useState<CaptureSummary[]>();
  useEffect(() => core.observeCaptures(setCaptures), [core]);
  return captures;
}

export function useEngineStatus(core: EdgeCore): EngineStatus | undefined {
  const [status, setStatus] = useState<EngineStatus>();
  useEffect(() => core.observeEngine(setStatus), [core]);
  return status;
}

/** Re-renders every `ms` (relative times such as "retrying in 12 s"). */
export function useNow(ms: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(timer);
  }, [ms]);
  return now;
}

/** The key vault's state (none, locked, unlocked), re-rendering on every change. */
export function useVaultState(vault: KeyVault): VaultState | undefined {
  const [state, setState] = useState<VaultState>();
  useEffect(() => {
    let live = true;
    const read = (): void => {
      void vault.state().then((s) => live && setState(s));
    };
    read();
    const unsubscribe = vault.subscribe(read);
    return () => {
      live = false;
      unsubscribe();
    };
  }, [vault]);
  return state;
}

/** Why patient details are hidden now, or undefined. */
export function useDetailsLock(gate: PatientDetailsGate): DetailsLock | undefined {
  return useSyncExternalStore(
    (l) => gate.subscribe(l),
    () => gate.lock,
  );
}

/** The kept roster (decrypted in memory), re-rendering on every refresh. */
export function useRoster(store: RosterStore): RosterState {
  return useSyncExternalStore(
    (l) => store.subscribe(l),
    () => store.state,
  );
}

/**
 * The kept roster as a form may show it: none while patient details are locked (device locked,
 * or offline past the grace period), since names and birth dates are patient details.
 */
export function useShownRoster(): Roster | undefined {
  const { roster, gate } = useServices();
  const state = useRoster(roster);
  return useDetailsLock(gate) ? undefined : state.roster;
}
