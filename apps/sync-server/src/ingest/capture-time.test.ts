import { describe, expect, it } from 'vitest';
import { isDomainError } from '../errors.ts';
import { cursor } from '../xrays/xray.service.ts';
import { assertCaptureTimeNotAhead } from './capture-time.ts';

describe('capture time bound', () => {
  const now = Date.parse('2026-11-27T08:00:00Z');
  it('takes the past, now and up to the skew ahead; refuses beyond it, naming the field', () => {
    for (const at of [
      '2026-11-27T07:00:00Z',
      '2026-11-27T08:00:00Z',
      '2026-11-27T08:05:00Z',
      '2026-11-27T09:04:00+01:00',
    ])
      expect(() => assertCaptureTimeNotAhead(at, 5 * 60_000, now), at).not.toThrow();
    try {
      assertCaptureTimeNotAhead('2026-11-27T08:05:00.001Z', 5 * 60_000, now);
      expect.unreachable();
    } catch (err) {
      expect(isDomainError(err) && err.code).toBe('validation_failed');
      expect(isDomainError(err) && err.fields).toEqual([
        {
          field: 'metadata.capturedAt',
          message:
            "must not be more than 5 minutes ahead of the server's clock (2026-11-27T08:00:00.000Z): check the device's date and time",
        },
      ]);
    }
  });
});

describe('list cursors', () => {
  const id = '8b0f4a37-1c7e-4f4e-9a51-0f8f0b2c2d11';
  it('round-trip for the order they were issued for, and only that one', () => {
    const byChange = cursor.encode({ by: 'change', seq: 1_764_000_000_000_123 }, 'asc');
    expect(cursor.decode(byChange, { by: 'change', order: 'asc' })).toEqual({
      by: 'change',
      seq: 1_764_000_000_000_123,
    });
    const newestFirst = cursor.encode({ by: 'captured', capturedAt: '2026-11-27T08:00:00.000Z', id });
    expect(cursor.decode(newestFirst)).toEqual({ by: 'captured', capturedAt: '2026-11-27T08:00:00.000Z', id });
    const oldestFirst = cursor.encode({ by: 'captured', capturedAt: '2026-11-27T08:00:00.000Z', id }, 'asc');
    for (const [raw, expected] of [
      [byChange, { by: 'change', order: 'desc' }],
      [byChange, { by: 'captured', order: 'asc' }],
      [newestFirst, { by: 'captured', order: 'asc' }],
      [oldestFirst, { by: 'captured', order: 'desc' }],
    ] as const)
      expect(() => cursor.decode(raw, expected)).toThrow(/not one this server issued/);
  });

  it('refuses what encode would not write', () => {
    const forged = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    for (const raw of [
      forged(['seq', -1, 'asc']),
      forged(['seq', 1.5, 'asc']),
      forged(['seq', '12', 'asc']),
      forged(['seq', 12, 'sideways']),
      forged(['2026-11-27T08:00:00Z', id]),
      `${forged(['seq', 12, 'asc'])}=`,
      'not-base64-json',
    ])
      expect(() => cursor.decode(raw, { by: 'change', order: 'asc' }), raw).toThrow(/not one this server issued/);
  });
});
