import type { EdgeDb } from '../db/edge.db.ts';
import type { DeviceEnrollment } from '../db/edge.records.ts';
import { dpopThumbprint, getDpopKey } from './dpop.key.ts';
import { createServerApi } from '../sync/server.api.ts';
import { isBound, type ServerAuthorizer } from './server.authorizer.ts';

export interface EnrollOptions {
  db: EdgeDb;
  baseUrl: string;
  authorize: ServerAuthorizer;
  /** Shown to administrators. */
  name: string;
  appVersion?: string;
  fetch?: typeof fetch;
}

/**
 * Registers this install with the sync server as a device (POST /devices), once per DPoP key:
 * on the first sign-in with a token bound to the key. Idempotent on the server for the same key,
 * so a lost answer is simply asked again. An unbound token (an issuer without DPoP) enrolls
 * nothing. Returns the enrollment, or undefined when there is none (yet).
 */
export async function ensureEnrolled(opts: EnrollOptions, token: string): Promise<DeviceEnrollment | undefined> {
  const jkt = await dpopThumbprint(await getDpopKey(opts.db));
  const row = await opts.db.settings.get('device');
  if (row?.key === 'device' && row.value.jkt === jkt) return row.value;
  if (!isBound(token)) return undefined;
  const device = await createServerApi(opts).enrollDevice(
    { name: opts.name, ...(opts.appVersion ? { appVersion: opts.appVersion } : {}) },
    (method, url) => opts.authorize(token, method, url),
  );
  const enrollment: DeviceEnrollment = { id: device.id, jkt, enrolledAt: Date.now() };
  await opts.db.settings.put({ key: 'device', value: enrollment });
  return enrollment;
}
