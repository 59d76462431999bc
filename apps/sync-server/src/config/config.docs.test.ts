import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_DOCS_PATH, describeConfig, renderConfigDocs } from './config.docs.ts';
import { CONFIG_RULES, ConfigError, EnvSchema, loadConfig } from './config.ts';

describe('configuration reference (docs/configuration.md)', () => {
  it('the committed file matches the config schema (run `pnpm --filter @xray/sync-server run config-docs` to refresh)', async () => {
    const committed = readFileSync(CONFIG_DOCS_PATH, 'utf8');
    expect(committed).toBe(await renderConfigDocs(CONFIG_DOCS_PATH));
  });

  it('every variable of the schema has a description (.describe() in config.ts)', () => {
    const undescribed = Object.entries(EnvSchema.shape)
      .filter(([, schema]) => !schema.description?.trim())
      .map(([name]) => name);
    expect(undescribed).toEqual([]);
  });

  it('documents every variable of the schema, each with a type and a description', () => {
    const docs = describeConfig();
    expect(docs.map((d) => d.name)).toEqual(Object.keys(EnvSchema.shape));
    for (const d of docs) {
      expect(d.type, d.name).not.toBe('');
      expect(d.description, d.name).not.toBe('');
    }
  });

  it('takes what production requires from the rules the server checks', () => {
    const docs = new Map(describeConfig().map((d) => [d.name, d]));
    for (const name of ['DATABASE_URL', 'S3_BUCKET', 'OIDC_ISSUER', 'KEK', 'UPLOAD_PRIVATE_KEY'])
      expect(docs.get(name)?.requiredInProduction, name).toMatch(/required in production/);
    for (const name of ['HOST', 'PORT', 'S3_PART_SIZE', 'LOG_LEVEL'])
      expect(docs.get(name)?.requiredInProduction, name).toBeUndefined();
    expect(
      docs
        .get('TLS_TERMINATED_BY_PROXY')
        ?.checks.map((c) => c.when)
        .join(),
    ).toMatch(/HOST/);
    expect(docs.get('AUTH_DISABLED')?.checks[0]).toMatchObject({
      production: true,
      message: 'must not be true in production',
    });

    // What the reference lists as required is what an empty production environment is refused for.
    let refused: readonly { variable: string }[] = [];
    try {
      loadConfig({ NODE_ENV: 'production' });
    } catch (err) {
      if (err instanceof ConfigError) refused = err.problems;
    }
    expect(refused.map((p) => p.variable).sort()).toEqual(
      [...describeConfig().filter((d) => d.requiredInProduction)].map((d) => d.name).sort(),
    );
    expect(CONFIG_RULES.every((r) => r.variable in EnvSchema.shape)).toBe(true);
  });
});
