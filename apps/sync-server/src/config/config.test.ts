import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';

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

  it('metrics: their own listener on loopback by default, or off', () => {
    expect(loadConfig({}).metrics).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(loadConfig({ METRICS_PORT: '0', METRICS_HOST: '0.0.0.0' }).metrics).toEqual({ host: '0.0.0.0', port: 0 });
    expect(loadConfig({ METRICS_PORT: 'off' }).metrics).toBeUndefined();
    expect(() => loadConfig({ METRICS_PORT: 'on' })).toThrow(/METRICS_PORT/);
  });
});
