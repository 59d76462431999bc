/** Whether the device has a network, and when that changes. */
export interface NetworkMonitor {
  isOnline(): boolean;
  /** Calls back on every change; returns the unsubscribe function. */
  subscribe(onChange: (online: boolean) => void): () => void;
}

/** navigator.onLine plus the window's `online`/`offline` events. */
export function browserNetworkMonitor(): NetworkMonitor {
  return {
    isOnline: () => navigator.onLine,
    subscribe(onChange) {
      const on = (): void => onChange(true);
      const off = (): void => onChange(false);
      globalThis.addEventListener('online', on);
      globalThis.addEventListener('offline', off);
      return () => {
        globalThis.removeEventListener('online', on);
        globalThis.removeEventListener('offline', off);
      };
    },
  };
}
