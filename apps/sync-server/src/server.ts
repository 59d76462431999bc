import { once } from 'node:events';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express, RequestHandler } from 'express';
import { createApp } from './app.ts';
import { answerClientErrors } from './http/client-errors.ts';
import { listeningUrl } from './http/public-url.ts';
import { createAuthentication, issuerless, type Authentication } from './auth/authentication.ts';
import { ConfigError, ignoredS3Notice, type Config } from './config/config.ts';
import { startAuditAnchoring, type AuditAnchoring } from './audit/audit.anchoring.ts';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './db/embedded-postgres.ts';
import { DatabaseRoleError, prepareDatabase } from './db/database-roles.ts';
import { createPool, warmUp, type Pool } from './db/pool.ts';
import { startDicomIndexAtStart } from './dicomweb/dicom-index.at-start.ts';
import { createIntegrations } from './integrations/integrations.ts';
import { createLogger, type Logger } from './observability/logger.ts';
import { readDatabaseGauges } from './observability/database.gauges.ts';
import { createMetrics } from './observability/metrics.ts';
import { listenForMetrics, type MetricsListener } from './observability/metrics.http.ts';
import { ensurePrivateDir } from './storage/private-files.ts';
import { createObjectStore, hasClientPacedReads, type ObjectStore } from './storage/index.ts';
import { loadOrCreateDevKeys } from './keys/dev-keys.ts';
import { confirmKeks, kekCoverageCheck, recheckKeks } from './keys/kek-check.ts';
import { createConfigKeyService, type KeyService } from './keys/key.service.ts';
import { PgAdvisoryLocker } from './uploads/pg-advisory.locker.ts';
import type { UploadDoor } from './uploads/tus.http.ts';

export interface RunningServer {
  url: string;
  port: number;
  /** The Prometheus listener's base URL (`${metricsUrl}/metrics`); undefined when METRICS_PORT=off. */
  metricsUrl: string | undefined;
  pool: Pool;
  store: ObjectStore;
  /** The KEKs and upload keys this instance holds (confirmed against the database). */
  keys: KeyService;
  log: Logger;
  uploads: UploadDoor;
  /** The Express app serving it (tests read its mounted routes). */
  app: Express;
  /** Signed checkpoints of the audit chain, written outside the database. */
  auditAnchoring: AuditAnchoring;
  /**
   * Settles when the DICOM index at start (DICOM_INDEX_AT_START) has ended: done, nothing to do,
   * another instance's, off, or stopped. Never rejects; the start never waits for it.
   */
  dicomIndexAtStart: Promise<void>;
  stop(): Promise<void>;
}

/** What /readyz asks the database at once: the database itself, the KEK check values, the KEK coverage. */
const READY_CHECK_CONNECTIONS = 3;

/** Starts everything the config asks for (embedded database, storage, HTTP); port 0 picks a free port. */
export interface StartOptions {
  log?: Logger;
  /** Tests wrap the real store to inject faults (storage failing mid-upload). */
  decorateStore?: (store: ObjectStore) => ObjectStore;
  /** Replaces how requests are authenticated (tests that act as several users without an issuer). */
  authenticate?: RequestHandler;
}

export async function start(config: Config, opts: StartOptions = {}): Promise<RunningServer> {
  const log = opts.log ?? createLogger(config.logLevel, config.logFormat);
  // Test suites only (OPENAPI_RESPONSE_CHECK): loaded on demand, before anything is started that
  // would need stopping, so a production server never carries the checker.
  const responseCheck = config.openapiResponseCheck
    ? (await import('./http/openapi.response-check.ts')).responseCheckToFile(config.openapiResponseCheck)
    : undefined;
  // First: a missing issuer is a config error, and discovery runs while the database is prepared.
  const auth: Authentication = opts.authenticate
    ? issuerless(opts.authenticate)
    : await createAuthentication(config.auth, log);
  let embedded: EmbeddedDatabase | undefined;
  let metricsListener: MetricsListener | undefined;
  try {
    // DATA_DIR holds the embedded database, disk objects and development keys: the server's user only.
    if (!config.db.url || config.storage.kind === 'fs' || !config.keys || !config.audit.anchorKeyPem)
      await ensurePrivateDir(config.dataDir);
    let dbUrl = config.db.url;
    if (!dbUrl) {
      embedded = await startEmbeddedPostgres(config.dataDir, config.db.embeddedPort, log);
      dbUrl = embedded.url;
    }
    // Migrations as the schema's owner; the pools below connect as the application's own role,
    // which may only INSERT and SELECT on the audit trail.
    const { appUrl } = await prepareDatabase({
      url: dbUrl,
      ownerUrl: config.db.ownerUrl,
      requireSeparation: config.env === 'production',
      log,
      migrations: { lockTimeoutMs: config.db.migrationLockTimeoutMs, retryMs: config.db.migrationRetryMs },
    }).catch((err: unknown) => {
      if (err instanceof DatabaseRoleError)
        throw new ConfigError(`Invalid database roles for production:\n  ${err.message}`, { cause: err });
      throw err;
    });
    // Every wait on the database is bounded, so a hung or unreachable one gives 503s, not hangs.
    const timeouts = {
      connectTimeoutMs: config.db.connectTimeoutMs,
      statementTimeoutMs: config.db.statementTimeoutMs,
      idleInTransactionTimeoutMs: config.db.idleInTransactionTimeoutMs,
    };
    const pool = createPool(appUrl, config.db.poolMax, { log, ...timeouts });
    // As many as /readyz queries at once, opened while keys, anchoring and routes are set up.
    warmUp(pool, Math.min(READY_CHECK_CONNECTIONS, config.db.poolMax));
    const realStore = await createObjectStore(config.storage);
    const store = opts.decorateStore ? opts.decorateStore(realStore) : realStore;
    if (config.storage.kind === 'fs') {
      const { dir, ignoredS3Settings: ignored } = config.storage;
      // S3 settings without the bucket (production refuses them): said, or X-rays go to disk unnoticed.
      const notice = ignoredS3Notice(config.storage);
      if (notice) log.warn({ dir, ignored }, `${notice}: X-rays are stored on local disk`);
      else log.info({ dir }, 'disk object storage (set S3_BUCKET to use S3)');
    } else log.info({ bucket: config.storage.bucket, endpoint: config.storage.endpoint }, 'S3 object storage');

    // Upload locks hold a connection each for as long as a PATCH runs: a pool of their own.
    // (Lock waits are pg_try_advisory_lock loops, so the statement timeout never cuts one short.)
    const lockPool = createPool(appUrl, config.tus.lockPoolMax, { log, ...timeouts });
    const locker = new PgAdvisoryLocker(lockPool, log, config.tus.lockTimeoutMs);
    await locker.start();
    // Development keys only when none are configured; production refuses that in config.
    const keySettings = config.keys ?? (await loadOrCreateDevKeys(config.dataDir));
    if (!config.keys)
      log.warn(
        { dir: config.dataDir },
        'development encryption keys in DATA_DIR/keys (set KEK and UPLOAD_PRIVATE_KEY)',
      );
    // A KEK that is not the key its id stands for in this database, or a weak upload key: refuse
    // to start, wrap nothing.
    const keys = await (async () => {
      const k = await createConfigKeyService(keySettings, { warn: (message) => log.warn(message) });
      await confirmKeks(pool, k);
      return k;
    })().catch(async (err: unknown) => {
      await locker.stop();
      await Promise.all([lockPool.end(), pool.end()]);
      throw err;
    });
    // X-rays wrapped under a KEK this instance lacks make it unready (cached: probes are frequent).
    const kekCoverage = kekCoverageCheck(pool, keys);
    // Patient Service, Doctor Service webhook, RabbitMQ, and the outbox relay that feeds the last two.
    // Known once the server listens (port 0 picks one): the base of event links without PUBLIC_URL.
    const listening: { url?: string } = {};
    const integrations = createIntegrations(config, pool, log, () => listening.url);
    const metrics = createMetrics();
    metrics.watchDatabase(() => readDatabaseGauges(pool));
    if (hasClientPacedReads(realStore)) metrics.watchS3Downloads(realStore);
    const auditAnchoring = await startAuditAnchoring({ config, pool, log, metrics });
    const { app, uploads, authFailures, xrays } = await createApp({
      responseCheck,
      config,
      pool,
      store,
      keys,
      log,
      metrics,
      authenticate: auth.authenticate,
      readinessChecks: {
        auth: auth.check,
        keys: async () => {
          const results = await Promise.allSettled([recheckKeks(pool, keys), kekCoverage()]);
          const failed = results.flatMap((r) =>
            r.status === 'rejected' ? [String((r.reason as Error)?.message ?? r.reason)] : [],
          );
          if (failed.length) throw new Error(failed.join('; '));
        },
      },
      locker,
      links: integrations.links,
      patients: integrations.patients,
      outbox: integrations.outbox,
    });
    if (config.metrics) metricsListener = await listenForMetrics(config.metrics, metrics, log);
    // Discovered by now, or tried for as long as a start waits for it (see JwtVerifier.start).
    await auth.started;
    uploads.startCleaner();
    const server: Server = app.listen(config.http.port, config.http.host);
    answerClientErrors(server, log);
    await once(server, 'listening');
    // Uploads of large X-rays over slow links take long: no request timeout, but drop idle sockets.
    server.requestTimeout = 0;
    server.keepAliveTimeout = 65_000;
    const { port } = server.address() as AddressInfo;
    const url = listeningUrl(config.http.host, port);
    listening.url = url;
    // Background work (outbox relay, pending-link checks) once the address its events link to is known.
    integrations.start();
    const metricsUrl = metricsListener?.url;
    log.info({ url, metricsUrl }, 'sync server listening');
    // X-rays stored before the DICOMweb index: indexed in the background, by one instance at a time.
    const dicomIndex = config.dicomIndexAtStart
      ? startDicomIndexAtStart({
          pool,
          openLockPool: () => createPool(appUrl, 1, { log, ...timeouts }),
          xrays,
          outbox: integrations.outbox,
          log,
        })
      : undefined;

    // While draining, a kept-alive connection (a proxy's) is closed as soon as its request is
    // answered, instead of staying open until the grace period ends.
    let draining = false;
    const running = new Set<ServerResponse>();
    server.on('request', (_req: IncomingMessage, res: ServerResponse) => {
      if (draining) res.shouldKeepAlive = false;
      running.add(res);
      res.once('close', () => {
        running.delete(res);
        if (draining) server.closeIdleConnections();
      });
    });

    let stopping: Promise<void> | undefined;
    const stop = () =>
      (stopping ??= (async () => {
        // The whole stop fits in SHUTDOWN_GRACE_MS: running requests get all of it but a reserve
        // for what follows, which is cut off at the end (a hung database cannot hold a stop).
        const graceMs = config.http.shutdownGraceMs;
        const deadline = Date.now() + graceMs;
        const drainMs = graceMs - Math.min(3_000, Math.floor(graceMs / 3));
        // Drain: stop accepting, let running requests finish within the drain period. The DICOM
        // index at start stops meanwhile (after the X-ray it is writing, if any).
        draining = true;
        const dicomIndexStopped = dicomIndex?.stop();
        for (const res of running) if (!res.headersSent) res.shouldKeepAlive = false;
        // (close() also closes the idle connections; Node keeps a busy kept-alive one open after
        // its response unless told otherwise, hence the request listener above.)
        server.close();
        const timer = setTimeout(() => server.closeAllConnections(), drainMs);
        await once(server, 'close').catch(() => undefined);
        clearTimeout(timer);
        const cleanup = (async () => {
          // Done with the main pool (and its lock let go) before that pool ends.
          await dicomIndexStopped;
          await metricsListener?.stop();
          uploads.stopCleaner();
          await integrations.stop();
          await locker.stop();
          await lockPool.end();
          // Open windows of failed authentications become their audit events while the pool is up.
          await authFailures.stop();
          // Then the last checkpoint: whatever was appended since the previous one is anchored.
          await auditAnchoring.stop();
          await pool.end();
        })();
        let left: NodeJS.Timeout | undefined;
        const finished = await Promise.race([
          cleanup.then(
            () => true,
            (err: unknown) => {
              log.error({ err }, 'shutdown: a step failed');
              return true;
            },
          ),
          new Promise<false>(
            (resolve) => (left = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()))),
          ),
        ]);
        clearTimeout(left);
        auth.stop();
        if (!finished)
          log.error(
            { shutdownGraceMs: graceMs },
            'shutdown: background work, the last audit checkpoint or closing the database pools did not finish within SHUTDOWN_GRACE_MS (is the database reachable?); stopping anyway',
          );
        await embedded?.stop();
        log.info({ clean: finished }, 'sync server stopped');
      })());
    const dicomIndexAtStart = dicomIndex?.done ?? Promise.resolve();
    return { url, port, metricsUrl, pool, store, keys, log, uploads, app, auditAnchoring, dicomIndexAtStart, stop };
  } catch (err) {
    await metricsListener?.stop();
    auth.stop();
    await embedded?.stop();
    throw err;
  }
}
