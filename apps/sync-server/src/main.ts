import { ConfigError, loadConfig } from './config/config.ts';
import { withDevIntegrations } from './dev/dev-integrations.startup.ts';
import { withDevIssuer } from './dev/dev-issuer.startup.ts';
import { createLogger } from './observability/logger.ts';
import { start } from './server.ts';

try {
  const loaded = loadConfig();
  const log = createLogger(loaded.logLevel);
  // Development without OIDC_ISSUER: the dev issuer runs first, and the server trusts it.
  const { config: withIssuer, stop: stopDevIssuer } = await withDevIssuer(loaded, log);
  // Development without PATIENT_SERVICE_URL / DOCTOR_SERVICE_URL: the dev services, likewise.
  const { config, stop: stopDevServices } = await withDevIntegrations(withIssuer, log);
  const server = await start(config, { log });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      server.log.info({ signal }, 'shutting down');
      void server
        .stop()
        .then(stopDevServices)
        .then(stopDevIssuer)
        .then(() => process.exit(0));
    });
  }
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(78); // EX_CONFIG
  }
  throw err;
}
