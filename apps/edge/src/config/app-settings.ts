import { z } from 'zod';

/** What the paramedic (or whoever sets up the tablet) may change on the Settings screen. */
export interface AppSettings {
  /** The sync server: where captures are sent. */
  serverUrl: string;
  /** Days a synced capture's encrypted copy stays on the device. */
  retentionDays: number;
}

const LOOPBACK_HOSTS = new Set(['localhost', '[::1]', '::1']);

/** localhost, 127.0.0.0/8 or [::1]: the only places plain HTTP may go (this very machine). */
export function isLoopbackUrl(url: URL): boolean {
  return LOOPBACK_HOSTS.has(url.hostname) || /^127(\.\d{1,3}){3}$/.test(url.hostname);
}

/** A server address: https, or http on this machine only; no credentials, query or fragment. */
export const ServerUrlSchema = z
  .string()
  .trim()
  .min(1, 'is required')
  .refine((v) => URL.canParse(v), 'must be a full address such as https://xray.example.org')
  .transform((v) => new URL(v))
  .refine((u) => u.protocol === 'https:' || (u.protocol === 'http:' && isLoopbackUrl(u)), {
    message: 'must use HTTPS (plain HTTP only for localhost)',
  })
  .refine((u) => !u.username && !u.password && !u.search && !u.hash, {
    message: 'must not contain a user name, password, query or #fragment',
  })
  .transform((u) => `${u.origin}${u.pathname}`.replace(/\/+$/, ''));

export const RetentionDaysSchema = z.coerce
  .number({ error: 'must be a number of days' })
  .int('must be a whole number of days')
  .min(1, 'must be at least 1 day')
  .max(90, 'must be at most 90 days');

export const AppSettingsSchema = z.object({ serverUrl: ServerUrlSchema, retentionDays: RetentionDaysSchema });

export const DEFAULT_RETENTION_DAYS = 7;
const STORAGE_KEY = 'xray-edge.settings';

/** The settings saved on this device, else the defaults (the server that served the app). */
export function loadSettings(storage: Pick<Storage, 'getItem'>, defaultServerUrl: string): AppSettings {
  const fallback: AppSettings = { serverUrl: defaultServerUrl, retentionDays: DEFAULT_RETENTION_DAYS };
  const raw = storage.getItem(STORAGE_KEY);
  if (!raw) return fallback;
  try {
    const parsed = AppSettingsSchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : fallback;
  } catch {
    return fallback;
  }
}

export type SettingsResult =
  { ok: true; settings: AppSettings } | { ok: false; errors: Partial<Record<keyof AppSettings, string>> };

/** Checks what the form holds; saves it when valid. */
export function saveSettings(
  storage: Pick<Storage, 'setItem'>,
  input: { serverUrl: string; retentionDays: string | number },
): SettingsResult {
  const parsed = AppSettingsSchema.safeParse(input);
  if (!parsed.success) {
    const errors: Partial<Record<keyof AppSettings, string>> = {};
    for (const issue of parsed.error.issues) {
      const field = issue.path[0];
      if ((field === 'serverUrl' || field === 'retentionDays') && !errors[field]) errors[field] = issue.message;
    }
    return { ok: false, errors };
  }
  storage.setItem(STORAGE_KEY, JSON.stringify(parsed.data));
  return { ok: true, settings: parsed.data };
}

export const retentionMs = (s: AppSettings): number => s.retentionDays * 24 * 60 * 60 * 1000;
