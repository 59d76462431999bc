import { Workbox } from 'workbox-window';

/** A new version of the app, installed by the service worker and waiting for the user's go. */
export interface AppUpdates {
  readonly available: boolean;
  subscribe(listener: () => void): () => void;
  /** Activates the waiting version and reloads the page into it. */
  apply(): void;
  /** Asks the server for a new version now (also done on every load and when going online). */
  check(): Promise<void>;
}

const NONE: AppUpdates = {
  available: false,
  subscribe: () => () => undefined,
  apply: () => undefined,
  check: async () => undefined,
};

/**
 * Registers the generated service worker (it precaches the app shell, so the app loads with no
 * network after its first visit). A new deployment installs in the background and waits; the
 * app then offers to reload instead of swapping code under a paramedic's hands.
 */
export function registerServiceWorker(url: string): AppUpdates {
  if (!('serviceWorker' in navigator) || !globalThis.isSecureContext) return NONE;
  const wb = new Workbox(url);
  const listeners = new Set<() => void>();
  let available = false;
  const announce = (): void => {
    available = true;
    for (const l of listeners) l();
  };
  wb.addEventListener('waiting', announce);
  void wb.register().catch((err: unknown) => console.error('service worker registration failed', err));
  globalThis.addEventListener('online', () => void wb.update().catch(() => undefined));
  return {
    get available() {
      return available;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    apply() {
      wb.addEventListener('controlling', () => globalThis.location.reload());
      wb.messageSkipWaiting();
    },
    async check() {
      await wb.update();
    },
  };
}
