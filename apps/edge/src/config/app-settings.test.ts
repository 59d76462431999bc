import { describe, expect, it } from 'vitest';
import { loadSettings, retentionMs, saveSettings } from './app-settings.ts';

class MemoryStorage {
  readonly items = new Map<string, string>();
  getItem(k: string): string | null {
    return this.items.get(k) ?? null;
  }
  setItem(k: string, v: string): void {
    this.items.set(k, v);
  }
}

describe('settings', () => {
  it('defaults to the server that served the app and 7 days', () => {
    expect(loadSettings(new MemoryStorage(), 'http://127.0.0.1:8080')).toEqual({
      serverUrl: 'http://127.0.0.1:8080',
      retentionDays: 7,
    });
  });

  it('requires HTTPS except on this machine, and says so', () => {
    const storage = new MemoryStorage();
    const bad = (serverUrl: string) => saveSettings(storage, { serverUrl, retentionDays: '7' });
    expect(bad('http://xray.example.org')).toEqual({
      ok: false,
      errors: { serverUrl: 'must use HTTPS (plain HTTP only for localhost)' },
    });
    expect(bad('ftp://xray.example.org')).toMatchObject({ ok: false });
    expect(bad('xray.example.org')).toEqual({
      ok: false,
      errors: { serverUrl: 'must be a full address such as https://xray.example.org' },
    });
    expect(bad('https://user:pw@xray.example.org')).toMatchObject({ ok: false });
    expect(bad('')).toEqual({ ok: false, errors: { serverUrl: 'is required' } });
    for (const ok of [
      'https://xray.example.org/',
      'http://localhost:5173',
      'http://127.0.0.1:8080',
      'http://[::1]:8080',
    ])
      expect(bad(ok).ok, ok).toBe(true);
    expect(storage.items.size).toBe(1);
  });

  it('keeps a whole number of days between 1 and 90, and is read back as saved', () => {
    const storage = new MemoryStorage();
    expect(saveSettings(storage, { serverUrl: 'https://x.example', retentionDays: '0' })).toEqual({
      ok: false,
      errors: { retentionDays: 'must be at least 1 day' },
    });
    expect(saveSettings(storage, { serverUrl: 'https://x.example', retentionDays: '2.5' })).toMatchObject({
      ok: false,
      errors: { retentionDays: 'must be a whole number of days' },
    });
    const saved = saveSettings(storage, { serverUrl: 'https://x.example/sync/', retentionDays: '14' });
    expect(saved).toEqual({ ok: true, settings: { serverUrl: 'https://x.example/sync', retentionDays: 14 } });
    expect(loadSettings(storage, 'http://127.0.0.1:8080')).toEqual({
      serverUrl: 'https://x.example/sync',
      retentionDays: 14,
    });
    expect(retentionMs({ serverUrl: '', retentionDays: 2 })).toBe(2 * 86_400_000);
  });
});
