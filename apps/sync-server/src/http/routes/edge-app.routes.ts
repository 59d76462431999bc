import type { EdgeServerConfig } from '@xray/shared';
import path from 'node:path';
import express, { Router } from 'express';
import type { Config } from '../../config/config.ts';

/** What the edge app needs to know about this deployment before anyone signs in (no secrets). */
/** GET /edge-config (the shared contract with the edge app). */
export type EdgeAppConfig = EdgeServerConfig;

export function edgeAppConfig(config: Config): EdgeAppConfig {
  return {
    oidc: { issuer: config.auth.issuer ?? null, audience: config.auth.audience },
    patientServiceUrl: config.integrations.patientService.url ?? null,
    maxUploadBytes: config.limits.maxUploadBytes,
    offlineGraceMs: config.edgeOfflineGraceMs,
    uploadStallMs: config.edgeUploadStallMs,
  };
}

const originOf = (url: string | null | undefined): string[] => {
  const u = url ? URL.parse(url) : null;
  return u ? [u.origin] : [];
};

/**
 * The app's Content-Security-Policy: its own scripts and styles only, and network access to this
 * server, the issuer (discovery, token refresh) and the Patient Service (the patient list).
 */
export function edgeAppCsp(app: EdgeAppConfig): string {
  const connect = ["'self'", ...originOf(app.oidc.issuer), ...originOf(app.patientServiceUrl)];
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' blob:",
    `connect-src ${[...new Set(connect)].join(' ')}`,
    "worker-src 'self'",
    "manifest-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/**
 * GET /edge-config (public: the app reads it before sign-in, and from another origin in
 * development), and the built edge web app itself when EDGE_APP_DIR is set: the app's HTML with
 * its CSP, the service worker and HTML never cached by HTTP (so a new version is seen), hashed
 * assets cached for good, source maps never.
 */
export function edgeAppRoutes(config: Config): Router {
  const router = Router();
  const app = edgeAppConfig(config);
  router.get('/edge-config', (_req, res) => {
    res.set({ 'Access-Control-Allow-Origin': '*', 'Cache-Control': 'no-cache' }).json(app);
  });
  if (config.edgeAppDir) {
    const csp = edgeAppCsp(app);
    // Source maps carry the app's sources: never served, whatever a build left in the directory.
    // Judged on the decoded path, as express.static serves it (`.ma%70` is `.map` too).
    router.use((req, _res, next) => (isSourceMap(req.path) ? next('router') : next()));
    router.use(
      express.static(config.edgeAppDir, {
        index: 'index.html',
        setHeaders(res, file) {
          // The app's files are not patient data: their own caching below, not the API's no-store.
          res.removeHeader('Cache-Control');
          res.setHeader('X-Content-Type-Options', 'nosniff');
          res.setHeader('Referrer-Policy', 'no-referrer');
          const name = path.basename(file);
          if (name === 'index.html') res.setHeader('Content-Security-Policy', csp);
          if (name.endsWith('.html') || name === 'sw.js' || name.endsWith('.webmanifest'))
            res.setHeader('Cache-Control', 'no-cache');
          else if (file.includes(`${path.sep}assets${path.sep}`))
            res.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
        },
      }),
    );
  }
  return router;
}

/** A source map by its decoded name; a path that does not decode is not served either. */
function isSourceMap(rawPath: string): boolean {
  try {
    return decodeURIComponent(rawPath).toLowerCase().endsWith('.map');
  } catch {
    return true;
  }
}
