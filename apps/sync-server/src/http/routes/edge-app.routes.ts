import { EdgeServerConfigSchema, type EdgeServerConfig } from '@xray/shared';
import path from 'node:path';
import express, { type Router } from 'express';
import type { Config } from '../../config/config.ts';
import { jsonResponse } from '../openapi.parts.ts';
import { defineOperations, RouteTable } from '../route-table.ts';

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
    // Absent when not configured: the app then compares a file's PatientID alone, as the server does.
    ...(config.integrations.patientIdIssuer ? { patientIdIssuer: config.integrations.patientIdIssuer } : {}),
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
 * The app's own files (index.html, scripts, the service worker) are not declared: a browser loads
 * them, no API client calls them, and which names exist depends on the build in EDGE_APP_DIR.
 */
export const edgeAppOperations = defineOperations({
  getEdgeConfig: {
    method: 'get',
    path: '/edge-config',
    tags: ['edge'],
    summary: 'What the edge app needs before sign-in: issuer, audience, Patient Service, limits, patient id issuer',
    description:
      'Public and readable from any origin: the app reads it before sign-in (and, in development, from another origin).',
    access: 'public',
    responses: {
      200: jsonResponse(
        'The deployment, as the edge app sees it',
        EdgeServerConfigSchema.meta({ id: 'EdgeServerConfig' }),
        ['Access-Control-Allow-Origin', 'Cache-Control'],
      ),
    },
  },
});

/**
 * GET /edge-config (public: the app reads it before sign-in, and from another origin in
 * development), and the built edge web app itself when EDGE_APP_DIR is set: the app's HTML with
 * its CSP, the service worker and HTML never cached by HTTP (so a new version is seen), hashed
 * assets cached for good, source maps never.
 */
export function edgeAppRoutes(config: Config): Router {
  const app = edgeAppConfig(config);
  const router = new RouteTable(edgeAppOperations)
    .on('getEdgeConfig', (_req, res) => {
      res.set({ 'Access-Control-Allow-Origin': '*', 'Cache-Control': 'no-cache' }).json(app);
    })
    .router();
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
