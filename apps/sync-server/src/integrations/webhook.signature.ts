import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The webhook signature scheme (documented in the README for receivers):
 *
 *   X-Xray-Timestamp: <unix seconds>
 *   X-Xray-Signature: v1=<hex HMAC-SHA256(WEBHOOK_SECRET, "<timestamp>.<raw body>")>
 *
 * The timestamp is signed with the body so a captured request cannot be replayed later; a
 * receiver refuses timestamps too far from its clock (5 minutes here).
 */
export const WEBHOOK_HEADERS = {
  eventId: 'x-xray-event-id',
  eventType: 'x-xray-event-type',
  timestamp: 'x-xray-timestamp',
  signature: 'x-xray-signature',
  attempt: 'x-xray-delivery-attempt',
} as const;

export const SIGNATURE_VERSION = 'v1';
export const DEFAULT_TOLERANCE_S = 300;

export function signWebhook(secret: string, timestamp: number, body: string): string {
  const mac = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
  return `${SIGNATURE_VERSION}=${mac}`;
}

export type SignatureCheck = { valid: true } | { valid: false; reason: string };

/** Checks a received webhook: signature header (any of several `v1=` values), and timestamp freshness. */
export function verifyWebhook(
  secret: string,
  headers: { timestamp: string | undefined; signature: string | undefined },
  body: string,
  nowS = Math.floor(Date.now() / 1000),
  toleranceS = DEFAULT_TOLERANCE_S,
): SignatureCheck {
  if (!headers.timestamp || !/^\d{1,12}$/.test(headers.timestamp))
    return { valid: false, reason: 'missing or malformed timestamp' };
  const timestamp = Number(headers.timestamp);
  if (Math.abs(nowS - timestamp) > toleranceS) return { valid: false, reason: 'timestamp outside the tolerance' };
  if (!headers.signature) return { valid: false, reason: 'missing signature' };
  const expected = Buffer.from(signWebhook(secret, timestamp, body));
  // Several signatures may be sent (secret rotation): any one matching is enough.
  const ok = headers.signature
    .split(',')
    .map((s) => Buffer.from(s.trim()))
    .some((given) => given.length === expected.length && timingSafeEqual(given, expected));
  return ok ? { valid: true } : { valid: false, reason: 'signature does not match' };
}
