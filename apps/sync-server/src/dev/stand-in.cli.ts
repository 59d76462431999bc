import { startDevDoctorService } from './doctor-service.ts';
import { startDevPatientService } from './patient-service.ts';

/**
 * The development stand-ins for the hospital's Patient Service and the Doctor Service as processes
 * of their own: deploy/compose.yaml runs them from the server's image, which holds the bundle only
 * (no TypeScript sources, no tsx):
 *   node dist/stand-in.js patient-service|doctor-service     the bundle (apps/sync-server/build.mjs)
 *   tsx src/dev/stand-in.cli.ts patient-service|doctor-service
 * They listen on HOST:PORT (default 0.0.0.0:8080); the Doctor Service verifies the webhooks'
 * signatures with WEBHOOK_SECRET.
 */
const which = process.argv[2];
const port = Number(process.env.PORT ?? 8080);
const host = process.env.HOST ?? '0.0.0.0';

let service: { url: string; stop(): Promise<void> };
if (which === 'patient-service') service = await startDevPatientService({ port, host });
else if (which === 'doctor-service') {
  const secret = process.env.WEBHOOK_SECRET;
  if (!secret) {
    console.error('doctor-service: WEBHOOK_SECRET is not set (the secret the sync server signs its webhooks with)');
    process.exit(78); // EX_CONFIG
  }
  service = await startDevDoctorService({ port, host, secret });
} else {
  console.error('usage: stand-in patient-service|doctor-service   (HOST, PORT; WEBHOOK_SECRET for doctor-service)');
  process.exit(64); // EX_USAGE
}
console.log(`${which} (development stand-in) listening at ${service.url}`);

// As a container's first process, Node would ignore SIGTERM (no default action for pid 1): stop on it.
for (const signal of ['SIGTERM', 'SIGINT'] as const)
  process.once(signal, () => {
    void service.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
