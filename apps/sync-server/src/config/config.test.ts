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
});
