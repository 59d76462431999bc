/**
 * The services the sync server talks to, as their own process, as in a deployment: the
 * development OIDC issuer (real logins, real JWTs), Patient Service (every upload's link check)
 * and Doctor Service (the outbox webhooks). Inside the server process (what `npm start` does)
 * they would add their memory and CPU to the figures of the server under test.
 *   node peers.process.ts <dataDir> <issuerPort>     prints "peers <json>"
 */
import { randomBytes } from 'node:crypto';
import { startDevDoctorService } from '../../../apps/sync-server/src/dev/doctor-service.ts';
import { startDevIssuer } from '../../../apps/sync-server/src/dev/oidc-issuer.ts';
import { startDevPatientService } from '../../../apps/sync-server/src/dev/patient-service.ts';

const [dataDir, port] = process.argv.slice(2);
if (!dataDir || !port) throw new Error('usage: peers.process.ts <dataDir> <issuerPort>');

// The server's defaults for OIDC_AUDIENCE and OIDC_ROLES_CLAIM.
const issuer = await startDevIssuer({ port: Number(port), dataDir, audience: 'xray-api', rolesClaim: ['roles'] });
const patients = await startDevPatientService({ port: 0 });
const secret = randomBytes(32).toString('base64url');
const doctor = await startDevDoctorService({ port: 0, secret });
console.log(
  `peers ${JSON.stringify({ issuer: issuer.issuer, patientServiceUrl: patients.url, doctorWebhookUrl: doctor.webhookUrl, webhookSecret: secret })}`,
);

process.once('SIGTERM', () => {
  void Promise.all([doctor.stop(), patients.stop(), issuer.stop()]).finally(() => process.exit(0));
});
