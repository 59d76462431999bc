import { randomBytes } from 'node:crypto';
import type { Config } from '../config/config.ts';
import type { Logger } from '../observability/logger.ts';

/**
 * `npm start` with no PATIENT_SERVICE_URL / DOCTOR_SERVICE_URL: run the development Patient and
 * Doctor Services first and point the server at them (like the dev OIDC issuer). Only in
 * development; production requires PATIENT_SERVICE_URL and never loads these modules.
 */
export async function withDevIntegrations(
  config: Config,
  log: Logger,
): Promise<{ config: Config; stop(): Promise<void> }> {
  if (config.env !== 'development') return { config, stop: async () => undefined };
  const { patientService, doctorService } = config.integrations;
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
  };
  let next = config.integrations;
  try {
    if (!patientService.url) {
      const { startDevPatientService } = await import('./patient-service.ts');
      const dev = await startDevPatientService({ port: patientService.devPort, log }).catch((err: unknown) => {
        throw new Error(
          `The development Patient Service could not start on port ${patientService.devPort} (set DEV_PATIENT_PORT, or PATIENT_SERVICE_URL to use another)`,
          { cause: err },
        );
      });
      stops.push(dev.stop);
      next = { ...next, patientService: { ...next.patientService, url: dev.url } };
    }
    if (!doctorService.url) {
      const { startDevDoctorService } = await import('./doctor-service.ts');
      // Both ends are ours: a fresh key each run unless one is configured.
      const secret = doctorService.secret ?? randomBytes(32).toString('base64url');
      const dev = await startDevDoctorService({ port: doctorService.devPort, secret, log }).catch((err: unknown) => {
        throw new Error(
          `The development Doctor Service could not start on port ${doctorService.devPort} (set DEV_DOCTOR_PORT, or DOCTOR_SERVICE_URL to use another)`,
          { cause: err },
        );
      });
      stops.push(dev.stop);
      next = { ...next, doctorService: { ...next.doctorService, url: dev.webhookUrl, secret } };
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { config: { ...config, integrations: next }, stop };
}
