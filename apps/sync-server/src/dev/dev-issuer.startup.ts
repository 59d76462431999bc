import type { Config } from '../config/config.ts';
import type { Logger } from '../observability/logger.ts';
import { DEMO_USERS } from './demo-users.ts';

/**
 * `npm start` with no OIDC_ISSUER: run the development issuer first and point the server at it.
 * Only in development, only when auth is not explicitly disabled; production never gets here
 * (the config guard requires OIDC_ISSUER) and never loads oidc-provider.
 */
export async function withDevIssuer(config: Config, log: Logger): Promise<{ config: Config; stop(): Promise<void> }> {
  if (config.env !== 'development' || config.auth.issuer || config.auth.disabled)
    return { config, stop: async () => undefined };
  const { startDevIssuer } = await import('./oidc-issuer.ts');
  const dev = await startDevIssuer({
    port: config.auth.devIssuerPort,
    dataDir: config.dataDir,
    audience: config.auth.audience,
    rolesClaim: config.auth.rolesClaim,
    log,
  }).catch((err: unknown) => {
    throw new Error(
      `The development OIDC issuer could not start on port ${config.auth.devIssuerPort} (set DEV_OIDC_PORT, or OIDC_ISSUER to use another issuer)`,
      { cause: err },
    );
  });
  log.info(
    { issuer: dev.issuer, users: Object.keys(DEMO_USERS) },
    'development OIDC issuer running; get a token with: npm run token -- <user>',
  );
  return { config: { ...config, auth: { ...config.auth, issuer: dev.issuer } }, stop: dev.stop };
}
