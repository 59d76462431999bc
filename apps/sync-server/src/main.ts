import { ConfigError, loadConfig } from './config/config.ts';
import { withDevIntegrations } from './dev/dev-integrations.startup.ts';
import { withDevIssuer } from './dev/dev-issuer.startup.ts';
import { createLogger } from './observability/logger.ts';
import { start } from './server.ts';

/**
 * Until the server listens, any failure (thrown, a promise nobody awaited, an `error` event a
 * library left unheard, such as a spawn refused with EACCES) ends the process with one line
 * saying why, and an exit code: 78 for configuration, 1 for the rest.
 */
function failedToStart(err: unknown): never {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(78); // EX_CONFIG
  }
  const message = err instanceof Error ? err.message : String(err);
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : '';
  console.error(`sync server did not start: ${message}${cause && !message.includes(cause) ? ` (${cause})` : ''}`);
  if (/^(debug|trace)$/.test(process.env.LOG_LEVEL ?? '') && err instanceof Error) console.error(err.stack);
  process.exit(1);
}
process.on('unhandledRejection', failedToStart);
process.on('uncaughtException', failedToStart);

try {
  const loaded = loadConfig();
  const log = createLogger(loaded.logLevel, loaded.logFormat);
  // Development without OIDC_ISSUER: the dev issuer runs first, and the server trusts it.
  const { config: withIssuer, stop: stopDevIssuer } = await withDevIssuer(loaded, log);
  // Development without PATIENT_SERVICE_URL / DOCTOR_SERVICE_URL: the dev services, likewise.
  const { config, stop: stopDevServices } = await withDevIntegrations(withIssuer, log);
  const server = await start(config, { log });
  process.off('unhandledRejection', failedToStart);
  process.off('uncaughtException', failedToStart);
  let stoppingSince: number | undefined;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      // A terminal's Ctrl-C reaches the whole process group (npm, the `npm start` launcher, which
      // forwards it too, and this process): the copies that come at once are one request to stop.
      if (stoppingSince !== undefined) {
        if (Date.now() - stoppingSince < 1000) return;
        server.log.warn({ signal }, 'second signal: exiting before the shutdown finished');
        process.exit(1);
      }
      stoppingSince = Date.now();
      server.log.info({ signal }, 'shutting down');
      server
        .stop()
        .then(stopDevServices)
        .then(stopDevIssuer)
        .then(
          () => process.exit(0),
          (err: unknown) => {
            server.log.error({ err }, 'shutdown failed');
            process.exit(1);
          },
        );
    });
  }
} catch (err) {
  failedToStart(err);
}
