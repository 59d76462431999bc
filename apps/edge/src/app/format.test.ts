import { describe, expect, it } from 'vitest';
import { formatRetry, formatSent } from './format.ts';

describe('queue lines', () => {
  it('says how much of the file is sent, in one unit when both share it', () => {
    expect(formatSent({ sent: 6_200_000, total: 17_200_000 })).toBe('6.2 of 17.2 MB sent');
    expect(formatSent({ sent: 800_000, total: 17_200_000 })).toBe('800 kB of 17.2 MB sent');
    expect(formatSent({ sent: 0, total: 2_000_000 })).toBe('0 bytes of 2.0 MB sent');
  });

  it('names a stall and when the next try comes; other failures give the next try and the reason', () => {
    const now = Date.parse('2026-11-27T08:00:00Z');
    expect(
      formatRetry({ nextAttemptAt: now + 8000, lastError: { code: 'stalled', message: 'Connection stalled' } }, now),
    ).toBe('Connection stalled — retrying in 8 s');
    const other = formatRetry({ nextAttemptAt: now + 90_000, lastError: { message: 'the server answered 503' } }, now);
    expect(other).toMatch(/^Next try in 2 min \(.+\): the server answered 503$/);
  });
});
