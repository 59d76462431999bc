import { z } from 'zod';
import { ConfigError, EnvSchema, loadConfig } from './config.ts';

/**
 * The configuration reference (docs/configuration.md), generated from the zod schema the server
 * parses its environment with: names, types, defaults and descriptions come from EnvSchema, and
 * what production requires comes from running the real startup guard (loadConfig) — against an
 * empty production environment, then against a valid one with one setting changed at a time —
 * so the reference cannot say something the guard does not do.
 * Written by config.docs.write.ts; config.docs.test.ts fails when the committed file is stale.
 */

type EnvName = keyof typeof EnvSchema.shape;
type Env = Record<string, string>;

/** The JSON Schema of one variable as the environment gives it (input side: strings, coerced). */
interface VariableSchema {
  type?: string;
  format?: string;
  pattern?: string;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
}

interface Problem {
  variable: string;
  message: string;
}

export interface VariableDoc {
  name: string;
  type: string;
  /** The value used when unset, as the server sees it; undefined: no default. */
  default: string | undefined;
  description: string;
  /** The guard's words when an empty production environment is refused for this variable. */
  requiredInProduction: string | undefined;
  /** Other production checks that name this variable: the setting that triggers each, and the guard's words. */
  checks: { when: string; message: string }[];
}

/**
 * Descriptions for variables whose schema has no `.describe()` yet. The schema's own text always
 * wins; these belong in config.ts and can move there.
 */
const DESCRIPTION_GAPS: Partial<Record<EnvName, string>> = {
  NODE_ENV: '`production` turns on the startup guard: nothing embedded, nothing development-only.',
  PORT: 'TCP port to listen on; 0 picks a free one.',
  LOG_LEVEL: 'pino log level; logs go to stdout with a request id, as LOG_FORMAT says.',
  DATABASE_POOL_MAX: 'Connections of the main PostgreSQL pool (per instance).',
  EMBEDDED_PG_PORT: 'Port of the embedded PostgreSQL started when DATABASE_URL is unset (development).',
  S3_REGION: 'Region of the bucket (S3-compatible stores usually accept any).',
  S3_ACCESS_KEY_ID: 'Access key of the S3 credentials; unset: the AWS SDK default chain (instance role, env).',
  S3_SECRET_ACCESS_KEY: 'Secret key of the S3 credentials (with S3_ACCESS_KEY_ID).',
  S3_FORCE_PATH_STYLE: 'Path-style bucket URLs (endpoint/bucket/key): MinIO, Swift and most S3-compatible stores.',
  TUS_CLEANUP_INTERVAL_MS:
    'How often each instance looks for expired unfinished uploads (they take turns via an advisory lock).',
  OUTBOX_BATCH_SIZE: 'Events one relay claims per poll.',
  OUTBOX_BACKOFF_MAX_MS: 'Longest delay between two delivery attempts of one event.',
  SHUTDOWN_GRACE_MS: 'On SIGTERM, how long running requests may take to finish before connections are closed.',
};

/** Values for a valid production environment where the type alone does not give one. */
const SAMPLE_VALUES: Partial<Record<EnvName, string>> = {
  DATABASE_URL: 'postgres://xray:secret@db.example.org:5432/xray',
  DATABASE_OWNER_URL: 'postgres://xray_owner:secret@db.example.org:5432/xray',
  AUDIT_ANCHOR_KEY: '-----BEGIN PRIVATE KEY-----\\n…\\n-----END PRIVATE KEY-----',
  KEK: `kek-1:${Buffer.alloc(32, 1).toString('base64')}`,
  UPLOAD_PRIVATE_KEY: '-----BEGIN PRIVATE KEY-----\\n…\\n-----END PRIVATE KEY-----',
};

/** Settings the guard judges by value rather than by presence. */
const VALUE_PROBES: { set: Env; when: string }[] = [
  { set: { HOST: '0.0.0.0' }, when: '`HOST` is not a loopback address (e.g. `0.0.0.0`)' },
  { set: { KEK: `dev-kek-1:${Buffer.alloc(32, 1).toString('base64')}` }, when: '`KEK` holds a development key' },
  {
    set: { DATABASE_OWNER_URL: 'postgres://xray:other@db.example.org:5432/xray' },
    when: "`DATABASE_OWNER_URL` logs in as `DATABASE_URL`'s role",
  },
  {
    set: { CORS_ALLOWED_ORIGINS: 'http://edge.example.org' },
    when: '`CORS_ALLOWED_ORIGINS` lists a plain http origin (not loopback)',
  },
];

const names = (): EnvName[] => Object.keys(EnvSchema.shape).filter((k): k is EnvName => k in EnvSchema.shape);

function variableSchemas(): Record<string, VariableSchema> {
  const json = z.toJSONSchema(EnvSchema, { io: 'input', unrepresentable: 'any' });
  const properties: unknown = json.properties;
  if (typeof properties !== 'object' || properties === null) throw new Error('EnvSchema has no properties');
  return Object.fromEntries(Object.entries(properties).map(([k, v]: [string, VariableSchema]) => [k, v]));
}

const BOOLEAN_WORDS = ['0', '1', 'false', 'no', 'true', 'yes'];
const isBoolean = (s: VariableSchema): boolean =>
  Array.isArray(s.enum) && [...s.enum].map(String).sort().join() === BOOLEAN_WORDS.join();
const isUrl = (s: VariableSchema): boolean => s.format === 'uri';

function typeOf(s: VariableSchema): string {
  if (isBoolean(s)) return 'boolean (`true`/`false`, `1`/`0`, `yes`/`no`)';
  if (Array.isArray(s.enum)) return `one of ${s.enum.map((v) => `\`${String(v)}\``).join(', ')}`;
  if (s.type === 'integer' || s.type === 'number') {
    const bounds: string[] = [];
    if (s.exclusiveMinimum !== undefined) bounds.push(`> ${s.exclusiveMinimum}`);
    if (s.minimum !== undefined) bounds.push(`≥ ${s.minimum}`);
    if (s.maximum !== undefined && s.maximum < Number.MAX_SAFE_INTEGER) bounds.push(`≤ ${s.maximum}`);
    return [s.type, ...bounds].join(', ');
  }
  if (isUrl(s)) return 'URL';
  if (s.pattern) return `string matching \`${s.pattern}\``;
  return 'string';
}

/** 86400000 ms → "24 h"; 8388608 bytes → "8 MiB": the unit a person thinks in. */
function humanized(name: string, value: unknown): string | undefined {
  if (typeof value !== 'number' || value <= 0) return undefined;
  if (name.endsWith('_MS')) {
    const units: [number, string][] = [
      [3_600_000, 'h'],
      [60_000, 'min'],
      [1000, 's'],
    ];
    const unit = units.find(([size]) => value >= size && value % (size / 10) === 0);
    return unit ? `${+(value / unit[0]).toFixed(1)} ${unit[1]}` : undefined;
  }
  if (name.endsWith('_BYTES') || name.endsWith('_SIZE')) {
    const units: [number, string][] = [
      [1024 ** 3, 'GiB'],
      [1024 ** 2, 'MiB'],
      [1024, 'KiB'],
    ];
    const unit = units.find(([size]) => value >= size && value % size === 0);
    return unit ? `${value / unit[0]} ${unit[1]}` : undefined;
  }
  return undefined;
}

function defaultOf(name: string, defaults: Record<string, unknown>): string | undefined {
  if (!(name in defaults) || defaults[name] === undefined) return undefined;
  const value = defaults[name];
  if (value === '') return '(empty)';
  const text = `\`${String(value)}\``;
  const human = humanized(name, value);
  return human ? `${text} (${human})` : text;
}

/** The guard's verdict on an environment: each problem it names, from its readable ConfigError. */
function problemsOf(env: Env): Problem[] {
  try {
    loadConfig(env);
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const problems = err.message
      .split('\n')
      .map((line) => /^ {2}([A-Z][A-Z0-9_]*): (.+)$/.exec(line))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ variable: m[1] ?? '', message: m[2] ?? '' }));
    if (problems.length === 0) throw new Error(`the config guard's message names no variable:\n${err.message}`);
    return problems;
  }
}

function sampleFor(name: EnvName, s: VariableSchema): string {
  const sample = SAMPLE_VALUES[name];
  if (sample !== undefined) return sample;
  if (isUrl(s)) return 'https://service.example.org/';
  if (s.type === 'string' && !s.pattern && !s.enum) return 'xray';
  throw new Error(`config.docs.ts: production requires ${name}; add a sample value for it to SAMPLE_VALUES`);
}

/** Every variable, documented; the order is the schema's. */
export function describeConfig(): VariableDoc[] {
  const schemas = variableSchemas();
  const defaults: Record<string, unknown> = EnvSchema.parse({});
  const production: Env = { NODE_ENV: 'production' };

  const required = new Map(problemsOf(production).map((p) => [p.variable, p.message]));
  const valid: Env = { ...production };
  for (const name of names()) if (required.has(name)) valid[name] = sampleFor(name, schemas[name] ?? {});
  const leftover = problemsOf(valid);
  if (leftover.length)
    throw new Error(
      `config.docs.ts: a filled-in production environment is still refused:\n${leftover.map((p) => `  ${p.variable}: ${p.message}`).join('\n')}`,
    );

  // One setting changed at a time: each boolean turned on, each URL set (https, then plain
  // http), and the value probes. Whatever the guard then names is a production check.
  const probes: { set: Env; when: string }[] = [...VALUE_PROBES];
  for (const name of names()) {
    const s = schemas[name] ?? {};
    if (isBoolean(s)) probes.push({ set: { [name]: 'true' }, when: `\`${name}=true\`` });
    if (isUrl(s)) {
      if (!required.has(name))
        probes.push({ set: { [name]: 'https://service.example.org/' }, when: `\`${name}\` is set` });
      probes.push({
        set: { [name]: 'http://service.example.org/' },
        when: `\`${name}\` is a plain http URL (not loopback)`,
      });
    }
  }
  const checks = new Map<string, { when: string; message: string }[]>();
  for (const probe of probes) {
    for (const p of problemsOf({ ...valid, ...probe.set })) {
      const list = checks.get(p.variable) ?? [];
      if (!list.some((c) => c.message === p.message)) list.push({ when: probe.when, message: p.message });
      checks.set(p.variable, list);
    }
  }

  return names().map((name) => {
    const s = schemas[name] ?? {};
    return {
      name,
      type: typeOf(s),
      default: defaultOf(name, defaults),
      description:
        EnvSchema.shape[name].description ??
        DESCRIPTION_GAPS[name] ??
        'No description yet (add `.describe()` in config.ts).',
      requiredInProduction: required.get(name),
      checks: checks.get(name) ?? [],
    };
  });
}

const anchor = (name: string): string => `#${name.toLowerCase()}`;
const cell = (text: string): string => text.replaceAll('|', '\\|');

/** The Markdown of docs/configuration.md (before formatting). */
export function buildConfigDocs(): string {
  const vars = describeConfig();
  const required = vars.filter((v) => v.requiredInProduction);
  const checked = vars.filter((v) => v.checks.length);
  const out: string[] = [
    '# Configuration reference',
    '',
    '<!-- Generated from apps/sync-server/src/config/config.ts by `pnpm --filter @xray/sync-server run config-docs`. Do not edit by hand: a test fails when this file is stale. -->',
    '',
    'The sync server reads its whole configuration from environment variables, once, at startup',
    '(`apps/sync-server/src/config/config.ts`). A bad value stops it with a message naming the variable',
    '(exit code 78). Unset variables take their default; where there is none, the feature is off or, outside',
    'production, an embedded development default takes its place (embedded PostgreSQL, disk storage, generated',
    'keys, the development OIDC issuer and Patient/Doctor Services).',
    '',
    'With `NODE_ENV=production` the startup guard refuses every embedded or development default. The',
    '"production" facts below are not written by hand: they are what the guard answers when this reference is',
    'generated — first for an empty production environment, then for a valid one with one setting changed.',
    '',
    '## Required in production',
    '',
    '| variable | the guard says when it is missing |',
    '| --- | --- |',
    ...required.map((v) => `| [\`${v.name}\`](${anchor(v.name)}) | ${cell(v.requiredInProduction ?? '')} |`),
    '',
    '## Also checked',
    '',
    '| variable | when | the guard says |',
    '| --- | --- | --- |',
    ...checked.flatMap((v) =>
      v.checks.map((c) => `| [\`${v.name}\`](${anchor(v.name)}) | ${cell(c.when)} | ${cell(c.message)} |`),
    ),
    '',
    '## All variables',
    '',
    '| variable | default | production |',
    '| --- | --- | --- |',
    ...vars.map(
      (v) =>
        `| [\`${v.name}\`](${anchor(v.name)}) | ${cell(v.default ?? '—')} | ${v.requiredInProduction ? '**required**' : v.checks.length ? 'checked' : ''} |`,
    ),
    '',
    '## Details',
    '',
  ];
  for (const v of vars) {
    out.push(`### \`${v.name}\``, '', v.description, '', `- Type: ${v.type}`, `- Default: ${v.default ?? 'none'}`);
    if (v.requiredInProduction) out.push(`- Production: **required**. The guard: ${v.requiredInProduction}`);
    for (const c of v.checks) out.push(`- Production: checked when ${c.when}. The guard: ${c.message}`);
    out.push('');
  }
  return out.join('\n');
}

/** The committed form: formatted with the repository's Prettier settings, as `prettier --check` expects. */
export async function renderConfigDocs(target: URL): Promise<string> {
  const prettier = await import('prettier');
  const options = (await prettier.resolveConfig(target)) ?? {};
  return prettier.format(buildConfigDocs(), { ...options, parser: 'markdown', filepath: target.pathname });
}

export const CONFIG_DOCS_PATH = new URL('../../../../docs/configuration.md', import.meta.url);
