import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../config/config.ts';
import { signWebhook, verifyWebhook } from './webhook.signature.ts';

const production = {
  NODE_ENV: 'production',
  OIDC_ISSUER: 'https://id.example.org/realms/ems',
  DATABASE_URL: 'postgres://xray@db.internal/xray',
  S3_BUCKET: 'xrays',
  PATIENT_SERVICE_URL: 'https://patients.example.org/api',
};

describe('integration settings', () => {
  it('nothing is needed outside production: no sinks, links unchecked', () => {
    const c = loadConfig({});
    expect(c.integrations.patientService.url).toBeUndefined();
    expect(c.integrations.doctorService.url).toBeUndefined();
    expect(c.integrations.amqp).toMatchObject({ url: undefined, exchange: 'xray.events' });
    expect(c.integrations.patientService.devPort).toBe(8082);
    expect(c.integrations.doctorService.devPort).toBe(8083);
  });

  it('production requires PATIENT_SERVICE_URL', () => {
    expect(() => loadConfig({ ...production, PATIENT_SERVICE_URL: undefined })).toThrow(
      /PATIENT_SERVICE_URL: required in production/,
    );
  });

  it('a webhook needs its secret, in every environment', () => {
    for (const env of [{}, production]) {
      const load = () => loadConfig({ ...env, DOCTOR_SERVICE_URL: 'https://doctors.example.org/hooks/xray' });
      expect(load).toThrow(ConfigError);
      expect(load).toThrow(/WEBHOOK_SECRET: required when DOCTOR_SERVICE_URL is set/);
    }
    expect(() => loadConfig({ WEBHOOK_SECRET: 'short' })).toThrow(/WEBHOOK_SECRET/);
  });

  it('a lease shorter than two delivery timeouts is refused', () => {
    expect(() => loadConfig({ OUTBOX_LEASE_MS: '15000', WEBHOOK_TIMEOUT_MS: '10000' })).toThrow(/OUTBOX_LEASE_MS/);
    expect(() => loadConfig({ AMQP_URL: 'http://broker' })).toThrow(/AMQP_URL/);
  });
});

describe('webhook signature', () => {
  const secret = 'a-secret-of-some-length';
  const body = '{"id":"1"}';

  it('verifies what it signs, and nothing altered', () => {
    const now = 1_800_000_000;
    const sig = signWebhook(secret, now, body);
    expect(sig).toMatch(/^v1=[0-9a-f]{64}$/);
    expect(verifyWebhook(secret, { timestamp: String(now), signature: sig }, body, now)).toEqual({ valid: true });
    expect(verifyWebhook(secret, { timestamp: String(now), signature: sig }, `${body} `, now).valid).toBe(false);
    expect(verifyWebhook('another-secret-entirely', { timestamp: String(now), signature: sig }, body, now).valid).toBe(
      false,
    );
    // A replay outside the tolerance, even with a valid signature.
    expect(verifyWebhook(secret, { timestamp: String(now), signature: sig }, body, now + 301)).toMatchObject({
      valid: false,
      reason: 'timestamp outside the tolerance',
    });
    // Several signatures (key rotation): one matching is enough.
    expect(verifyWebhook(secret, { timestamp: String(now), signature: `v1=00, ${sig}` }, body, now).valid).toBe(true);
  });
});
