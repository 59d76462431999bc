import { ServerUrlSchema } from '../src/config/app-settings.ts';

/** Where the shell loads the app from, and the detector folder it watches. */
export interface ShellConfig {
  serverUrl: string;
  watchDir: string | null;
}

/** During development: the server `npm start` runs. */
export const DEFAULT_SERVER_URL = 'http://127.0.0.1:8080';

/** What the shell keeps in its userData folder (shell.json), checked field by field. */
export function parseStoredShellConfig(value: unknown): Partial<ShellConfig> {
  if (typeof value !== 'object' || value === null) return {};
  const serverUrl: unknown = Reflect.get(value, 'serverUrl');
  const watchDir: unknown = Reflect.get(value, 'watchDir');
  return {
    ...(typeof serverUrl === 'string' ? { serverUrl } : {}),
    ...(typeof watchDir === 'string' && watchDir ? { watchDir } : {}),
  };
}

/**
 * The environment (XRAY_SERVER_URL, XRAY_WATCH_DIR: set by fleet management) wins over what was
 * stored; the server address follows the app's rule: HTTPS, plain HTTP only on this machine.
 */
export function resolveShellConfig(
  env: Record<string, string | undefined>,
  stored: Partial<ShellConfig>,
): { ok: true; config: ShellConfig } | { ok: false; message: string } {
  const raw = env.XRAY_SERVER_URL ?? stored.serverUrl ?? DEFAULT_SERVER_URL;
  const url = ServerUrlSchema.safeParse(raw);
  if (!url.success)
    return { ok: false, message: `The server address ${raw} ${url.error.issues[0]?.message ?? 'is not valid'}.` };
  return { ok: true, config: { serverUrl: url.data, watchDir: env.XRAY_WATCH_DIR ?? stored.watchDir ?? null } };
}
