import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './harness.ts';
import { runAdmin } from './server-process.ts';

// S3 settings with S3_BUCKET forgotten: production refuses them (config.test.ts) and the server
// warns at start elsewhere. xray-admin reads the same environment and opens the same store: a
// `check` or `recover` after a restore must not look at the local disk unnoticed either.
const SECRET = 'wJalrXUtnFEMI-not-to-be-printed';
const S3_WITHOUT_BUCKET = {
  S3_ENDPOINT: 'https://s3.internal',
  S3_ACCESS_KEY_ID: 'xray-app',
  S3_SECRET_ACCESS_KEY: SECRET,
};

describe('xray-admin with S3 settings but no S3_BUCKET', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer('fs');
  });
  afterAll(async () => {
    await server?.close();
  });

  it('names the ignored settings (never their values) and works on the local disk', async () => {
    const run = await runAdmin(['check'], { ...server.env, ...S3_WITHOUT_BUCKET }, undefined, { onlyEnv: true });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain(
      'S3_BUCKET is not set, so S3_ENDPOINT, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY are ignored: this command works on local disk',
    );
    expect(run.stdout + run.stderr).not.toContain(SECRET);
  });

  it('says nothing of S3 when none is set', async () => {
    const run = await runAdmin(['check'], server.env, undefined, { onlyEnv: true });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).not.toContain('S3_BUCKET');
  });
});
