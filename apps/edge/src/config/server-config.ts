import { EdgeServerConfigSchema, type EdgeServerConfig } from '@xray/shared';

export { EdgeServerConfigSchema, type EdgeServerConfig };

/** Before the server was ever reached: its documented default limit, no issuer, no patient list. */
export const DEFAULT_SERVER_CONFIG: EdgeServerConfig = {
  oidc: { issuer: null, audience: 'xray-api' },
  patientServiceUrl: null,
  maxUploadBytes: 1024 * 1024 * 1024,
};

const cacheKey = (serverUrl: string): string => `xray-edge.server-config:${serverUrl}`;

export interface ServerConfigSource {
  /** The last known config for this server (cache or defaults), at once and offline. */
  current(): EdgeServerConfig;
  /** Asks the server; on success the cache is updated. Never throws: offline keeps the cache. */
  refresh(): Promise<EdgeServerConfig>;
}

export function serverConfigSource(opts: {
  serverUrl: string;
  storage: Pick<Storage, 'getItem' | 'setItem'>;
  fetch?: typeof fetch;
  timeoutMs?: number;
  /** The server answered (the offline grace period starts again). */
  onContact?: () => void;
}): ServerConfigSource {
  const doFetch = opts.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  let current = (() => {
    try {
      const raw = opts.storage.getItem(cacheKey(opts.serverUrl));
      const parsed = raw ? EdgeServerConfigSchema.safeParse(JSON.parse(raw)) : undefined;
      return parsed?.success ? parsed.data : DEFAULT_SERVER_CONFIG;
    } catch {
      return DEFAULT_SERVER_CONFIG;
    }
  })();
  return {
    current: () => current,
    async refresh() {
      try {
        const res = await doFetch(`${opts.serverUrl}/edge-config`, {
          cache: 'no-store',
          signal: AbortSignal.timeout(opts.timeoutMs ?? 8_000),
        });
        if (!res.ok) return current;
        const parsed = EdgeServerConfigSchema.safeParse(await res.json());
        if (!parsed.success) return current;
        current = parsed.data;
        opts.storage.setItem(cacheKey(opts.serverUrl), JSON.stringify(current));
        opts.onContact?.();
      } catch {
        // Offline or the server is down: the cached config stands.
      }
      return current;
    },
  };
}
