import { UPLOAD_PATH } from '@xray/shared';
import express, { type Express, type RequestHandler } from 'express';
import { requestAuditing } from './audit/audit.http.ts';
import { createAuditService } from './audit/audit.service.ts';
import { AuthFailureLimiter } from './auth/auth-failures.limiter.ts';
import type { Config } from './config/config.ts';
import type { Pool } from './db/pool.ts';
import { DomainError } from './errors.ts';
import { buildOpenApiDocument } from './http/openapi.ts';
import { allowedMethods } from './http/api.operations.ts';
import { methodNotAllowed } from './http/method-not-allowed.ts';
import { byFirstSegment } from './http/route-table.ts';
import { problemHandler, sendProblem } from './http/problem.ts';
import { pipelinedInTurn } from './http/pipelined-requests.ts';
import { cutSilentBodies } from './http/silent-bodies.ts';
import { DownloadSlots } from './http/download-slots.ts';
import { cutStalledResponses } from './http/stalled-responses.ts';
import { corsAllowList, securityHeaders } from './http/security-headers.ts';
import { apiDocumentRoutes } from './http/routes/api-document.routes.ts';
import { auditRoutes } from './http/routes/audit.routes.ts';
import { keyRoutes } from './http/routes/keys.routes.ts';
import { edgeAppRoutes } from './http/routes/edge-app.routes.ts';
import { healthRoutes } from './http/routes/health.routes.ts';
import { changeRoutes } from './http/routes/changes.routes.ts';
import { xrayRoutes } from './http/routes/xrays.routes.ts';
import { outboxRoutes } from './http/routes/outbox.routes.ts';
import { deviceRoutes } from './http/routes/devices.routes.ts';
import { dpopGuard, inSequence } from './auth/dpop.guard.ts';
import { rosterRoutes } from './http/routes/roster.routes.ts';
import { dicomwebRoutes } from './dicomweb/dicomweb.routes.ts';
import { DICOMWEB_BASE } from './dicomweb/dicomweb.operations.ts';
import type { OutboxWriter } from './events/outbox.repository.ts';
import type { LinkVerifier } from './integrations/link.verifier.ts';
import type { PatientDirectory } from './integrations/patient-directory.ts';
import type { Logger } from './observability/logger.ts';
import { requestLog } from './observability/request-log.ts';
import type { Metrics } from './observability/metrics.ts';
import type { ObjectStore } from './storage/index.ts';
import { createUploadDoor, type UploadDoor } from './uploads/tus.http.ts';
import type { PgAdvisoryLocker } from './uploads/pg-advisory.locker.ts';
import type { KeyService } from './keys/key.service.ts';
import { createXrayService, type XrayService } from './xrays/xray.service.ts';
import { createRenderService } from './rendering/render.service.ts';

export interface AppDeps {
  config: Config;
  pool: Pool;
  store: ObjectStore;
  log: Logger;
  metrics: Metrics;
  /** Sets req.actor or answers 401; runs before every API route. */
  authenticate: RequestHandler;
  /** Extra /readyz checks by name (auth: the OIDC issuer is discovered); each throws when not ready. */
  readinessChecks?: Record<string, () => Promise<void>>;
  /** KEKs and the upload key pair. */
  keys: KeyService;
  /** Upload locks shared by every instance (PostgreSQL advisory locks). */
  locker: PgAdvisoryLocker;
  /** Patient and consultation check for new and corrected X-rays. */
  links: LinkVerifier;
  /** Events committed with the changes they report. */
  outbox: OutboxWriter;
  /** The Patient Service, when configured: GET /roster lists from it. */
  patients?: PatientDirectory | undefined;
  /** Test suites: checks every response against openapi.json (OPENAPI_RESPONSE_CHECK); never in production. */
  responseCheck?: RequestHandler | undefined;
}

/**
 * The metrics' view of a request: its route label when it is one of the upload door's (tus
 * matches its paths itself), and whether it is an upload (POST /xrays, tus creation or PATCH).
 */
export function ingestRouteOf(method: string, path: string): { label: string | undefined; ingest: boolean } {
  const p = path.toLowerCase().replace(/\/+$/, '');
  const uploads = UPLOAD_PATH.toLowerCase();
  const label = p === uploads ? UPLOAD_PATH : p.startsWith(`${uploads}/`) ? `${UPLOAD_PATH}/{id}` : undefined;
  const ingest =
    (method === 'POST' && (p === '/xrays' || p === uploads)) || (method === 'PATCH' && label === `${UPLOAD_PATH}/{id}`);
  return { label, ingest };
}

/** Builds the Express app from its dependencies; no I/O happens here (only the S3 driver's modules are loaded, when configured). */
export async function createApp(
  deps: AppDeps,
): Promise<{ app: Express; uploads: UploadDoor; authFailures: AuthFailureLimiter; xrays: XrayService }> {
  const { config, log, metrics } = deps;
  const app = express();
  app.disable('x-powered-by');
  // The API's entity tags are its own (an X-ray's version, a file's sha256), as the OpenAPI document
  // shows: Express's automatic weak ETag on every other answer, and the 304s it would bring, are not.
  app.set('etag', false);
  // Only the configured proxies may tell us the client's address and scheme.
  app.set('trust proxy', config.http.trustProxy.length ? config.http.trustProxy : false);
  // First, so it sees every answer as sent, refusals and the fallback 404 included.
  if (deps.responseCheck) app.use(deps.responseCheck);
  // A request pipelined behind an unanswered one waits for its turn, before anything runs for it.
  app.use(pipelinedInTurn);

  // One line per request when it is answered (not /healthz, which a probe asks every few seconds).
  app.use(requestLog(app, log, { ignore: (url) => url === '/healthz' }));
  app.use((req, res, next) => {
    const end = metrics.httpDuration.startTimer({ method: req.method });
    // Known before any route runs, so a request refused early (authentication) is labelled too.
    const { label: uploadRoute, ingest } = ingestRouteOf(req.method, req.path);
    res.on('finish', () => {
      const route: unknown = req.route?.path;
      const named: unknown = res.locals.route;
      end({
        route:
          typeof named === 'string'
            ? named
            : typeof route === 'string'
              ? `${req.baseUrl}${route}`
              : (uploadRoute ?? 'unmatched'),
        status: String(res.statusCode),
      });
      // Every refused upload, whichever door and whatever refused it (sendProblem names the code).
      if (ingest && res.statusCode >= 400) {
        const code: unknown = res.locals.problemCode;
        metrics.ingestRejected.inc({ code: typeof code === 'string' ? code : String(res.statusCode) });
      }
    });
    next();
  });

  // Every answer, problems and the edge app included; CORS preflights are answered here, unaudited.
  app.use(securityHeaders(config.http));
  app.use(corsAllowList(config.http.corsAllowedOrigins));

  // Before authentication and every route: a request body that stalls is cut off, wherever it goes.
  app.use(cutSilentBodies(config.tus.idleTimeoutMs));
  // And an answer the client stops reading is cut off, releasing the store read that feeds it.
  app.use(cutStalledResponses(config.http.responseStallTimeoutMs, log));

  // Before every route: each request can leave its audit event, denials included.
  const audit = createAuditService(deps);
  app.use(requestAuditing(audit, log));
  // Failed authentications per client: 429 past the limit, audited as one event per window.
  const authFailures = new AuthFailureLimiter(config.auth.failures, audit, log);
  // Device-bound tokens (DPoP proofs, revoked devices) are part of authenticating: refusals count the same.
  const authenticate = authFailures.guard(inSequence(deps.authenticate, dpopGuard({ config, pool: deps.pool })));

  app.use(byFirstSegment(healthRoutes(deps)));
  // Built on its first request, not at start: generating it from every schema is most of a start's CPU.
  app.use(byFirstSegment(apiDocumentRoutes(() => buildOpenApiDocument({ publicUrl: config.http.publicUrl }))));

  const xrays = createXrayService(deps);
  // Previews and DICOMweb rendered images: decoded in a few slots, cached encrypted in the store.
  const renders = createRenderService({
    ...deps,
    settings: config.rendering,
    openContent: (x) => xrays.openContent(x),
  });
  // One user's answers streaming stored bytes at once (downloads, WADO-RS retrieve, frames); more wait their turn.
  const downloads = new DownloadSlots(config.downloads, (outcome) => metrics.downloadSlots.inc({ outcome }));
  const ingest = {
    pool: deps.pool,
    store: deps.store,
    keys: deps.keys,
    log,
    metrics,
    maxUploadBytes: config.limits.maxUploadBytes,
    captureTimeMaxSkewMs: config.limits.captureTimeMaxSkewMs,
    links: deps.links,
    outbox: deps.outbox,
  };
  // The public key edges wrap data keys for: no secret, no auth.
  app.use(byFirstSegment(keyRoutes(deps.keys)));
  app.use('/xrays', authenticate);
  app.use(byFirstSegment(xrayRoutes({ ingest, xrays, renders, downloads, metrics, publicUrl: config.http.publicUrl })));
  app.use('/changes', authenticate);
  app.use(byFirstSegment(changeRoutes({ xrays })));
  app.use('/audit', authenticate);
  app.use(byFirstSegment(auditRoutes({ audit, publicUrl: config.http.publicUrl, issuer: config.auth.issuer })));
  app.use('/roster', authenticate);
  app.use(byFirstSegment(rosterRoutes({ patients: deps.patients })));
  app.use(DICOMWEB_BASE, authenticate);
  app.use(
    byFirstSegment(
      dicomwebRoutes({
        pool: deps.pool,
        store: deps.store,
        xrays,
        renders,
        downloads,
        audit,
        ingest,
        metrics,
        publicUrl: config.http.publicUrl,
      }),
    ),
  );
  app.use('/admin', authenticate);
  app.use(byFirstSegment(outboxRoutes({ pool: deps.pool })));
  app.use(UPLOAD_PATH, authenticate);
  const uploads = await createUploadDoor({
    config,
    pool: deps.pool,
    store: deps.store,
    locker: deps.locker,
    ingest,
    log,
    metrics,
  });
  app.use(byFirstSegment(uploads.router));
  // A revoked device may still say that it wiped itself (its only door once revoked).
  app.use('/devices/self/wipe-report', (req, _res, next) => {
    req.allowRevokedDevice = true;
    next();
  });
  app.use('/devices', authenticate);
  app.use(
    byFirstSegment(
      deviceRoutes({
        pool: deps.pool,
        endDeviceUploads: (id) => uploads.endDeviceUploads(id),
        publicUrl: config.http.publicUrl,
      }),
    ),
  );

  // The edge web app, when configured: same origin as the API (WebCrypto and the service worker need it).
  app.use(edgeAppRoutes(config));

  // A declared path asked with a method it does not take: 405 with Allow.
  app.use(methodNotAllowed(allowedMethods));
  app.use((req, res) => sendProblem(req, res, new DomainError('not_found', `No route for ${req.method} ${req.path}.`)));
  app.use(problemHandler(log));
  // The routes' X-ray service, for the server's own background work (the DICOM index at start).
  return { app, uploads, authFailures, xrays };
}
