import { signInAsDemoUser } from './dev-login.client.ts';
import { DEMO_USERS, isDemoUserName } from './demo-users.ts';

/**
 * `npm run token -- <user>`: prints an access token for a demo user of the running development
 * issuer (started by `npm start`), for curl and scripts:
 *   curl -H "Authorization: Bearer $(npm run --silent token -- doctor)" http://127.0.0.1:8080/xrays
 * It signs in through the real authorization code + PKCE flow; the issuer has no token back door.
 */
const users = Object.keys(DEMO_USERS).join(', ');
const user = process.argv.slice(2).find((a) => !a.startsWith('-'));
if (!isDemoUserName(user)) {
  console.error(`usage: npm run token -- <user>   (one of: ${users})`);
  process.exit(64); // EX_USAGE
}
const issuer = process.env.OIDC_ISSUER ?? `http://127.0.0.1:${process.env.DEV_OIDC_PORT ?? '8081'}`;
try {
  process.stdout.write(`${await signInAsDemoUser({ issuer, user })}\n`);
} catch (err) {
  const why = err instanceof Error ? `${err.message}${err.cause ? ` (${String(err.cause)})` : ''}` : String(err);
  console.error(`Could not get a token for "${user}" from ${issuer}: ${why}`);
  console.error('Is the development server running (npm start)? It starts the development issuer.');
  process.exit(69); // EX_UNAVAILABLE
}
