import { UPLOAD_HEADERS } from '@xray/shared';
import type { RequestHandler } from 'express';

/** One year, subdomains included: once a browser has seen the service over TLS it never tries plain HTTP. */
export const HSTS = 'max-age=31536000; includeSubDomains';

/**
 * Headers every answer carries, set before any route runs:
 * - `nosniff`: a browser renders nothing we send as another type than the one we name;
 * - `Cache-Control: no-store` by default: most answers carry patient data, which must never sit in
 *   a shared or browser cache. The few public ones (the upload key, /edge-config, the edge app's
 *   files) set their own caching;
 * - HSTS when a proxy in front terminates TLS (never on a plain-HTTP deployment).
 */
export function securityHeaders(http: { tlsTerminatedByProxy: boolean }): RequestHandler {
  return (_req, res, next) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Cache-Control', 'no-store');
    if (http.tlsTerminatedByProxy) res.setHeader('Strict-Transport-Security', HSTS);
    next();
  };
}

/** What a download is sent with: never run as a page, even if a browser is made to open it. */
export const DOWNLOAD_CSP = "sandbox; default-src 'none'";

/** Request headers a page from an allowed origin may send (the API's and tus's; no X-Forwarded-*). */
const ALLOWED_REQUEST_HEADERS = [
  'Authorization',
  'Content-Type',
  'If-None-Match',
  'If-Range',
  'Range',
  'X-Request-Id',
  'Tus-Resumable',
  'Upload-Length',
  'Upload-Offset',
  'Upload-Metadata',
  'Upload-Defer-Length',
  'Upload-Concat',
  'Upload-Checksum',
].join(', ');
const ALLOWED_METHODS = 'GET, HEAD, POST, PATCH, DELETE, OPTIONS';
/** Response headers such a page may read (tus sets its own list on /uploads answers). */
const EXPOSED_HEADERS = [
  'Location',
  'ETag',
  'Content-Disposition',
  'Content-Range',
  'Retry-After',
  'WWW-Authenticate',
  'X-Request-Id',
  UPLOAD_HEADERS.xrayId,
  UPLOAD_HEADERS.xraySha256,
].join(', ');
const PREFLIGHT_MAX_AGE_S = '600';

/**
 * CORS from an allow-list. An origin not listed gets no `Access-Control-Allow-Origin` (the edge
 * app is served from our own origin and needs none); a listed one gets its origin echoed and its
 * preflights answered here, before authentication (a preflight carries no token). No credentials
 * are allowed: the API takes bearer tokens, never cookies.
 */
export function corsAllowList(allowed: readonly string[]): RequestHandler {
  const origins = new Set(allowed);
  return (req, res, next) => {
    const origin = req.headers.origin;
    // A browser's preflight from an origin not on the list: answered here, without CORS headers
    // (the browser then refuses), so it never reaches authentication, the audit trail or the
    // failed-authentication count of the user's address.
    const preflight =
      req.method === 'OPTIONS' && origin !== undefined && !!req.headers['access-control-request-method'];
    if (origins.size > 0) res.vary('Origin');
    if (!origin || !origins.has(origin)) {
      if (preflight) return void res.status(204).end();
      return next();
    }
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Access-Control-Expose-Headers', EXPOSED_HEADERS);
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) {
      res.set({
        'Access-Control-Allow-Methods': ALLOWED_METHODS,
        'Access-Control-Allow-Headers': ALLOWED_REQUEST_HEADERS,
        'Access-Control-Max-Age': PREFLIGHT_MAX_AGE_S,
      });
      res.status(204).end();
      return;
    }
    next();
  };
}
