import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';

type Env = Record<string, string | undefined>;

/** What loading `env` refuses, as the server prints it ('' when it loads). */
function refusalOf(env: Env): string {
  try {
    loadConfig(env);
    return '';
  } catch (err) {
    return err instanceof ConfigError ? err.message : String(err);
  }
}

describe('config', () => {
  it('needs nothing: embedded PostgreSQL and disk storage under DATA_DIR', () => {
    const c = loadConfig({});
    expect(c.db.url).toBeUndefined();
    expect(c.storage).toMatchObject({ kind: 'fs' });
    expect(c.http.port).toBe(8080);
    expect(c.http.trustProxy).toEqual([]);
  });

  it('S3 settings select the S3 adapter', () => {
    const c = loadConfig({
      S3_BUCKET: 'xrays',
      S3_ENDPOINT: 'http://127.0.0.1:9000',
      S3_FORCE_PATH_STYLE: 'true',
      S3_CHECKSUMS_WHEN_REQUIRED: 'true',
    });
    expect(c.storage).toMatchObject({ kind: 's3', bucket: 'xrays', forcePathStyle: true, checksumsWhenRequired: true });
  });

  it('S3 settings without S3_BUCKET: refused in production, naming them; elsewhere disk storage that names them for a warning', () => {
    const s3 = {
      S3_ENDPOINT: 'https://s3.internal',
      S3_ACCESS_KEY_ID: 'key',
      S3_SECRET_ACCESS_KEY: 'secret',
      S3_FORCE_PATH_STYLE: 'true',
    };
    const refusal = (env: Env) => refusalOf({ NODE_ENV: 'production', ...env });
    expect(refusal(s3)).toMatch(
      /^ {2}S3_BUCKET: missing while S3_ENDPOINT, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, S3_FORCE_PATH_STYLE are set: without S3_BUCKET those are ignored and X-rays would be stored on local disk/m,
    );
    // A default that was set explicitly counts too; nothing set: the plain "required".
    expect(refusal({ S3_REGION: 'us-east-1' })).toMatch(/^ {2}S3_BUCKET: missing while S3_REGION is set:/m);
    expect(refusal({})).toMatch(/^ {2}S3_BUCKET: required in production \(no local-disk object storage there\)$/m);
    expect(refusal({ ...s3, S3_BUCKET: 'xrays' })).not.toMatch(/S3_BUCKET/);

    // Outside production: disk storage, with what it ignores (the server logs a warning naming them).
    expect(loadConfig({ NODE_ENV: 'test', ...s3 }).storage).toEqual({
      kind: 'fs',
      dir: expect.stringMatching(/objects$/) as string,
      ignoredS3Settings: ['S3_ENDPOINT', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY', 'S3_FORCE_PATH_STYLE'],
    });
    expect(loadConfig({}).storage).toMatchObject({ kind: 'fs', ignoredS3Settings: [] });
    // With S3_BUCKET they select S3 storage, as before.
    expect(loadConfig({ ...s3, S3_BUCKET: 'xrays' }).storage).toMatchObject({
      kind: 's3',
      bucket: 'xrays',
      endpoint: 'https://s3.internal',
      credentials: { accessKeyId: 'key', secretAccessKey: 'secret' },
      forcePathStyle: true,
    });
  });

  it('TUS_LOCK_TIMEOUT_MS: 30 s by default; 1 s to 10 min', () => {
    expect(loadConfig({}).tus.lockTimeoutMs).toBe(30_000);
    expect(loadConfig({ TUS_LOCK_TIMEOUT_MS: '2000' }).tus.lockTimeoutMs).toBe(2_000);
    expect(() => loadConfig({ TUS_LOCK_TIMEOUT_MS: '500' })).toThrow(
      /TUS_LOCK_TIMEOUT_MS: Too small: expected number to be >=1000/,
    );
    expect(() => loadConfig({ TUS_LOCK_TIMEOUT_MS: '3600000' })).toThrow(
      /TUS_LOCK_TIMEOUT_MS: Too big: expected number to be <=600000/,
    );
    expect(() => loadConfig({ TUS_LOCK_TIMEOUT_MS: '30s' })).toThrow(
      /TUS_LOCK_TIMEOUT_MS: expected an integer, got "30s"/,
    );
  });

  it('names every bad variable', () => {
    const bad = () => loadConfig({ PORT: 'eighty', S3_PART_SIZE: '1024', MAX_UPLOAD_BYTES: '-1' });
    expect(bad).toThrow(ConfigError);
    expect(bad).toThrow(/PORT[\s\S]*S3_PART_SIZE[\s\S]*MAX_UPLOAD_BYTES/);
  });

  it('CORS: same-origin by default; exact origins only, never * or null; https in production', () => {
    expect(loadConfig({}).http.corsAllowedOrigins).toEqual([]);
    expect(
      loadConfig({ PUBLIC_URL: 'https://xray.example.org/base', CORS_ALLOWED_ORIGINS: 'https://edge.example.org' }).http
        .corsAllowedOrigins,
    ).toEqual(['https://xray.example.org', 'https://edge.example.org']);
    for (const bad of ['*', 'null', 'https://edge.example.org/app', 'edge.example.org', 'file:///tmp'])
      expect(() => loadConfig({ CORS_ALLOWED_ORIGINS: bad })).toThrow(/CORS_ALLOWED_ORIGINS: .* not an origin/);
    expect(loadConfig({ CORS_ALLOWED_ORIGINS: 'http://192.168.1.20:5173' }).http.corsAllowedOrigins).toHaveLength(1);
    expect(() => loadConfig({ NODE_ENV: 'production', CORS_ALLOWED_ORIGINS: 'http://192.168.1.20:5173' })).toThrow(
      /CORS_ALLOWED_ORIGINS: .* plain http/,
    );
  });

  it('audit anchoring: checkpoints every 1000 events or 5 min by default; production needs the anchor key and an owner role apart from the application', () => {
    expect(loadConfig({}).audit).toEqual({
      anchorKeyPem: undefined,
      checkpoints: { every: 1000, intervalMs: 300_000, bucket: undefined, objectLock: undefined },
    });
    expect(
      loadConfig({
        S3_BUCKET: 'xrays',
        AUDIT_CHECKPOINT_BUCKET: 'xray-audit',
        AUDIT_CHECKPOINT_LOCK_DAYS: '3650',
        AUDIT_ANCHOR_KEY: 'line1\\nline2',
      }).audit,
    ).toMatchObject({
      anchorKeyPem: 'line1\nline2',
      checkpoints: { bucket: 'xray-audit', objectLock: { mode: 'COMPLIANCE', days: 3650 } },
    });
    expect(() => loadConfig({ AUDIT_CHECKPOINT_BUCKET: 'xray-audit' })).toThrow(/AUDIT_CHECKPOINT_BUCKET: needs S3/);
    expect(() => loadConfig({ AUDIT_CHECKPOINT_LOCK_DAYS: '30' })).toThrow(
      /AUDIT_CHECKPOINT_LOCK_DAYS: Object Lock needs S3/,
    );

    const production = {
      NODE_ENV: 'production',
      DATABASE_URL: 'postgres://xray_app:a@db.internal/xray',
      DATABASE_OWNER_URL: 'postgres://xray_owner:b@db.internal/xray',
    };
    const refusal = refusalOf;
    expect(refusal(production)).not.toMatch(/DATABASE_OWNER_URL/);
    expect(refusal(production)).toMatch(/^ {2}AUDIT_ANCHOR_KEY: required in production/m);
    expect(refusal({ ...production, AUDIT_ANCHOR_KEY: 'pem' })).not.toMatch(/AUDIT_ANCHOR_KEY/);
    expect(refusal({ ...production, DATABASE_OWNER_URL: undefined })).toMatch(
      /^ {2}DATABASE_OWNER_URL: required in production/m,
    );
    for (const same of [production.DATABASE_URL, 'postgres://xray_app:other@db.internal/xray'])
      expect(refusal({ ...production, DATABASE_OWNER_URL: same })).toMatch(
        /^ {2}DATABASE_OWNER_URL: logs in as the same role as DATABASE_URL/m,
      );
  });

  it('production: events delivered need PUBLIC_URL (their links are built on it), and PUBLIC_URL is https there', () => {
    const refusal = (env: Env) => refusalOf({ NODE_ENV: 'production', ...env });
    const webhook = { DOCTOR_SERVICE_URL: 'https://doctor.internal/events', WEBHOOK_SECRET: 'w'.repeat(32) };
    const amqp = { AMQP_URL: 'amqps://mq.internal' };
    for (const sinks of [webhook, amqp, { ...webhook, ...amqp }])
      expect(refusal(sinks)).toMatch(/^ {2}PUBLIC_URL: required in production when events are delivered/m);
    for (const fine of [
      { ...webhook, PUBLIC_URL: 'https://xray.hospital.example/api' },
      { ...amqp, PUBLIC_URL: 'http://127.0.0.1:8080' },
      // No sink: no event link to build.
      {},
    ])
      expect(refusal(fine)).not.toMatch(/PUBLIC_URL/);
    expect(refusal({ ...amqp, PUBLIC_URL: 'http://xray.hospital.example/api' })).toMatch(
      /^ {2}PUBLIC_URL: must be an https URL in production/m,
    );
    // Outside production the listening address still does (a warning at start).
    expect(loadConfig({ ...webhook }).http.publicUrl).toBeUndefined();
  });

  it('PATIENT_ID_ISSUER: unset by default (issuers not compared); trimmed; a DICOM LO value, never empty', () => {
    expect(loadConfig({}).integrations.patientIdIssuer).toBeUndefined();
    expect(loadConfig({ PATIENT_ID_ISSUER: ' HOSPITAL-A ' }).integrations.patientIdIssuer).toBe('HOSPITAL-A');
    expect(() => loadConfig({ PATIENT_ID_ISSUER: ' ' })).toThrow(/PATIENT_ID_ISSUER: empty/);
    expect(() => loadConfig({ PATIENT_ID_ISSUER: 'A\\B' })).toThrow(/PATIENT_ID_ISSUER: must not contain a backslash/);
    expect(() => loadConfig({ PATIENT_ID_ISSUER: 'x'.repeat(65) })).toThrow(/PATIENT_ID_ISSUER: must be at most 64/);
  });

  it('metrics: their own listener on loopback by default, or off', () => {
    expect(loadConfig({}).metrics).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(loadConfig({ METRICS_PORT: '0', METRICS_HOST: '0.0.0.0' }).metrics).toEqual({ host: '0.0.0.0', port: 0 });
    expect(loadConfig({ METRICS_PORT: 'off' }).metrics).toBeUndefined();
    expect(() => loadConfig({ METRICS_PORT: 'on' })).toThrow(/METRICS_PORT/);
  });

  // The test harnesses empty DPOP_REQUIRED_ROLES so their paramedics may use plain bearer tokens;
  // the default they override is the one a deployment gets.
  it('DPoP: paramedics must prove a device key by default, other roles may keep bearer tokens', () => {
    expect(loadConfig({}).auth.dpop).toEqual({
      bearerAllowed: true,
      requiredRoles: ['paramedic'],
      algorithms: ['ES256', 'EdDSA', 'PS256'],
      iatWindowS: 60,
    });
    expect(loadConfig({ DPOP_REQUIRED_ROLES: ' paramedic , admin,' }).auth.dpop.requiredRoles).toEqual([
      'paramedic',
      'admin',
    ]);
    expect(loadConfig({ DPOP_REQUIRED_ROLES: '' }).auth.dpop.requiredRoles).toEqual([]);
    expect(() => loadConfig({ DPOP_ALGORITHMS: 'ES256,HS256' })).toThrow(/DPOP_ALGORITHMS/);
  });

  it('logs: JSON lines unless a person reads along in development (a terminal, or LOG_FORMAT=pretty)', () => {
    // Vitest's stdout is no terminal: `auto` is JSON here, as for every collector.
    expect(loadConfig({}).logFormat).toBe('json');
    expect(loadConfig({ NODE_ENV: 'development', LOG_FORMAT: 'pretty' }).logFormat).toBe('pretty');
    expect(loadConfig({ LOG_FORMAT: 'json' }).logFormat).toBe('json');
    expect(() => loadConfig({ NODE_ENV: 'test', LOG_FORMAT: 'pretty' })).toThrow(
      /LOG_FORMAT: pretty is for development only/,
    );
    expect(() => loadConfig({ LOG_FORMAT: 'text' })).toThrow(/LOG_FORMAT/);
  });

  it('ConfigError carries each problem structured, every rule reported together', () => {
    let error: unknown;
    try {
      loadConfig({
        NODE_ENV: 'production',
        AUTH_DISABLED: 'yes',
        HOST: '0.0.0.0',
        OUTBOX_BACKOFF_BASE_MS: '5000',
        OUTBOX_BACKOFF_MAX_MS: '1000',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const { problems, message } = error as ConfigError;
    expect(message).toMatch(/^Invalid configuration for production:\n/);
    expect(problems).toContainEqual({ variable: 'AUTH_DISABLED', message: 'must not be true in production' });
    expect(problems).toContainEqual({
      variable: 'OUTBOX_BACKOFF_MAX_MS',
      message: 'must not be below OUTBOX_BACKOFF_BASE_MS',
    });
    expect(problems.map((p) => p.variable)).toEqual(
      expect.arrayContaining(['TLS_TERMINATED_BY_PROXY', 'DATABASE_URL', 'S3_BUCKET', 'KEK']),
    );
    for (const p of problems) expect(message).toContain(`\n  ${p.variable}: ${p.message}`);
    // A value of the wrong type is named first, before the rules.
    expect(() => loadConfig({ NODE_ENV: 'production', PORT: 'x' })).toThrow(/^Invalid configuration:\n {2}PORT: /);
  });

  it('production: a value of the wrong type is reported together with every setting production requires', () => {
    let error: unknown;
    try {
      loadConfig({ NODE_ENV: 'production', PORT: 'eighty', S3_BUCKET: 'xrays', S3_FORCE_PATH_STYLE: 'on' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const { problems } = error as ConfigError;
    expect(problems.slice(0, 2)).toEqual([
      { variable: 'PORT', message: 'expected an integer, got "eighty"' },
      { variable: 'S3_FORCE_PATH_STYLE', message: expect.stringContaining('expected one of') as string },
    ]);
    expect(problems.slice(2).map((p) => p.variable)).toEqual([
      'OIDC_ISSUER',
      'DATABASE_URL',
      'DATABASE_OWNER_URL',
      'KEK',
      'UPLOAD_PRIVATE_KEY',
      'AUDIT_ANCHOR_KEY',
      'PATIENT_SERVICE_URL',
    ]);
    expect(problems.find((p) => p.variable === 'KEK')?.message).toMatch(/^required in production/);
  });

  it('numbers: decimal digits only; an empty value is refused, not read as 0 (a free port, no grace)', () => {
    expect(loadConfig({ PORT: ' 9000 ', SHUTDOWN_GRACE_MS: '0' })).toMatchObject({
      http: { port: 9000, shutdownGraceMs: 0 },
    });
    const problemOf = (env: Record<string, string>): string => {
      try {
        loadConfig(env);
      } catch (err) {
        if (err instanceof ConfigError) return err.problems.map((p) => `${p.variable}: ${p.message}`).join('; ');
      }
      return 'accepted';
    };
    expect(problemOf({ PORT: '' })).toBe('PORT: empty; give an integer, or leave it unset for the default');
    expect(problemOf({ SHUTDOWN_GRACE_MS: '' })).toBe(
      'SHUTDOWN_GRACE_MS: empty; give an integer, or leave it unset for the default',
    );
    expect(problemOf({ SHUTDOWN_GRACE_MS: '10s' })).toBe('SHUTDOWN_GRACE_MS: expected an integer, got "10s"');
    for (const raw of ['8e3', '0x1f90', '1.5'])
      expect(problemOf({ PORT: raw })).toBe(`PORT: expected an integer, got "${raw}"`);
    expect(problemOf({ METRICS_PORT: '' })).toBe('METRICS_PORT: expected a port (0 to 65535) or `off`, got ""');
    expect(loadConfig({ METRICS_PORT: 'off' }).metrics).toBeUndefined();
    expect(loadConfig({ METRICS_PORT: '0' }).metrics?.port).toBe(0);
  });

  it('booleans: true/false, 1/0, yes/no and nothing else', () => {
    for (const [raw, value] of [
      ['true', true],
      ['1', true],
      ['yes', true],
      ['false', false],
      ['0', false],
      ['no', false],
    ] as const)
      expect(loadConfig({ TLS_TERMINATED_BY_PROXY: raw }).http.tlsTerminatedByProxy, raw).toBe(value);
    for (const raw of ['on', 'TRUE', 'Yes', ''])
      expect(() => loadConfig({ S3_FORCE_PATH_STYLE: raw }), raw).toThrow(/S3_FORCE_PATH_STYLE/);
  });

  it('keys: KEK and UPLOAD_PRIVATE_KEY together, KEK_CURRENT_ID one of KEK', () => {
    const kek = `kek-a:${Buffer.alloc(32, 1).toString('base64')},kek-b:${Buffer.alloc(32, 2).toString('base64')}`;
    expect(loadConfig({}).keys).toBeUndefined();
    expect(loadConfig({ KEK: kek, UPLOAD_PRIVATE_KEY: 'a\\nb' }).keys).toMatchObject({
      currentKekId: 'kek-a',
      uploadPrivateKeyPem: 'a\nb',
    });
    expect(loadConfig({ KEK: kek, KEK_CURRENT_ID: 'kek-b', UPLOAD_PRIVATE_KEY: 'pem' }).keys?.currentKekId).toBe(
      'kek-b',
    );
    expect(() => loadConfig({ KEK: kek })).toThrow(/UPLOAD_PRIVATE_KEY: KEK and UPLOAD_PRIVATE_KEY go together/);
    expect(() => loadConfig({ UPLOAD_PRIVATE_KEY: 'pem' })).toThrow(/KEK: KEK and UPLOAD_PRIVATE_KEY go together/);
    expect(() => loadConfig({ KEK: kek, KEK_CURRENT_ID: 'kek-c', UPLOAD_PRIVATE_KEY: 'pem' })).toThrow(
      /KEK_CURRENT_ID: kek-c is not an id in KEK/,
    );
  });
});
