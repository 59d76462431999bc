import { DomainError } from '../errors.ts';

/** "5 minutes", "90 seconds", "1 hour": the configured skew as a person reads it. */
function spoken(ms: number): string {
  const [n, unit] =
    ms % 3_600_000 === 0 && ms > 0
      ? [ms / 3_600_000, 'hour']
      : ms % 60_000 === 0 && ms > 0
        ? [ms / 60_000, 'minute']
        : [ms / 1000, 'second'];
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

/**
 * A capture time ahead of the server's clock by more than `maxSkewMs` (CAPTURE_TIME_MAX_SKEW_MS)
 * is a device clock that is wrong, not an X-ray from the future: refused on every door before a
 * byte is stored, so it can never sit at the top of every list by capture time.
 */
export function assertCaptureTimeNotAhead(capturedAt: string, maxSkewMs: number, now = Date.now()): void {
  if (Date.parse(capturedAt) <= now + maxSkewMs) return;
  throw new DomainError('validation_failed', 'The X-ray metadata has invalid fields.', [
    {
      field: 'metadata.capturedAt',
      message: `must not be more than ${spoken(maxSkewMs)} ahead of the server's clock (${new Date(now).toISOString()}): check the device's date and time`,
    },
  ]);
}
