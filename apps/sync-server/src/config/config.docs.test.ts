import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_DOCS_PATH, describeConfig, renderConfigDocs } from './config.docs.ts';
import { EnvSchema } from './config.ts';

describe('configuration reference (docs/configuration.md)', () => {
  it('the committed file matches the config schema and guard (run `pnpm --filter @xray/sync-server run config-docs` to refresh)', async () => {
    const committed = readFileSync(CONFIG_DOCS_PATH, 'utf8');
    expect(committed).toBe(await renderConfigDocs(CONFIG_DOCS_PATH));
  });

  it('documents every variable of the schema, each with a type and a description', () => {
    const docs = describeConfig();
    expect(docs.map((d) => d.name)).toEqual(Object.keys(EnvSchema.shape));
    for (const d of docs) {
      expect(d.type, d.name).not.toBe('');
      expect(d.description, d.name).not.toBe('');
    }
  });

  it("takes what production requires from the guard's own answers", () => {
    const docs = new Map(describeConfig().map((d) => [d.name, d]));
    for (const name of ['DATABASE_URL', 'S3_BUCKET', 'OIDC_ISSUER', 'KEK', 'UPLOAD_PRIVATE_KEY'])
      expect(docs.get(name)?.requiredInProduction, name).toMatch(/required in production/);
    for (const name of ['HOST', 'PORT', 'S3_PART_SIZE', 'LOG_LEVEL'])
      expect(docs.get(name)?.requiredInProduction, name).toBeUndefined();
    // Checked by value, not presence: found by changing one setting of a valid production env.
    expect(
      docs
        .get('TLS_TERMINATED_BY_PROXY')
        ?.checks.map((c) => c.when)
        .join(),
    ).toMatch(/HOST/);
    expect(docs.get('AUTH_DISABLED')?.checks[0]?.message).toMatch(/must not be true in production/);
  });
});
