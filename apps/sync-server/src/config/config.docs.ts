import { z } from 'zod';
import { CONFIG_RULES, EnvSchema, type ConfigRule } from './config.ts';

/**
 * The configuration reference (docs/configuration.md), generated from the schema alone: names,
 * types, bounds, enum values and defaults from EnvSchema (its JSON Schema, output side), the
 * descriptions from `.describe()`, and what production requires and refuses from CONFIG_RULES,
 * the very rules loadConfig checks. Written by config.docs.write.ts; config.docs.test.ts fails when
 * the committed file is stale or a variable has no description.
 */

type EnvName = keyof typeof EnvSchema.shape;

/** The JSON Schema of one variable, as the server sees it once parsed. */
interface VariableSchema {
  type?: string;
  const?: unknown;
  format?: string;
  pattern?: string;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  default?: unknown;
  anyOf?: VariableSchema[];
}

export interface VariableDoc {
  name: string;
  type: string;
  /** The value used when unset, as the server sees it; undefined: no default. */
  default: string | undefined;
  description: string;
  /** The rule's words when production is refused because this variable is unset. */
  requiredInProduction: string | undefined;
  /** The other rules on this variable: when each refuses, where (production or always), and its words. */
  checks: { when: string; production: boolean; message: string }[];
}

const names = (): EnvName[] => Object.keys(EnvSchema.shape).filter((k): k is EnvName => k in EnvSchema.shape);

function variableSchemas(): Record<string, VariableSchema> {
  const json = z.toJSONSchema(EnvSchema, { io: 'output', unrepresentable: 'any' });
  const properties: unknown = json.properties;
  if (typeof properties !== 'object' || properties === null) throw new Error('EnvSchema has no properties');
  return Object.fromEntries(Object.entries(properties).map(([k, v]: [string, VariableSchema]) => [k, v]));
}

function typeOf(s: VariableSchema): string {
  if (s.anyOf) return s.anyOf.map(typeOf).join(' or ');
  if (s.const !== undefined) return `\`${String(s.const)}\``;
  if (s.type === 'boolean') return 'boolean (`true`/`false`, `1`/`0`, `yes`/`no`)';
  if (Array.isArray(s.enum)) return `one of ${s.enum.map((v) => `\`${String(v)}\``).join(', ')}`;
  if (s.type === 'integer' || s.type === 'number') {
    const bounds: string[] = [];
    if (s.exclusiveMinimum !== undefined) bounds.push(`> ${s.exclusiveMinimum}`);
    if (s.minimum !== undefined) bounds.push(`≥ ${s.minimum}`);
    if (s.maximum !== undefined && s.maximum < Number.MAX_SAFE_INTEGER) bounds.push(`≤ ${s.maximum}`);
    return [s.type, ...bounds].join(', ');
  }
  if (s.format === 'uri') return 'URL';
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

function defaultOf(name: string, s: VariableSchema): string | undefined {
  if (s.default === undefined) return undefined;
  if (s.default === '') return '(empty)';
  const text = `\`${String(s.default)}\``;
  const human = humanized(name, s.default);
  return human ? `${text} (${human})` : text;
}

/** A rule's words as the reference prints them: what it fills in from the environment shown as `…`. */
const wordsOf = (rule: ConfigRule): string => rule.message.replace('{value}', '…');

/** Every variable, documented; the order is the schema's. Throws when a variable has no description. */
export function describeConfig(): VariableDoc[] {
  const schemas = variableSchemas();
  return names().map((name) => {
    const s = schemas[name] ?? {};
    const description = EnvSchema.shape[name].description;
    if (!description) throw new Error(`config.ts: ${name} has no description; add .describe() to it in EnvSchema`);
    const rules = CONFIG_RULES.filter((r) => r.variable === name);
    const required = rules.find((r) => r.production && r.required);
    return {
      name,
      type: typeOf(s),
      default: defaultOf(name, s),
      description,
      requiredInProduction: required && wordsOf(required),
      checks: rules
        .filter((r) => r !== required)
        .map((r) => ({ when: r.when, production: r.production === true, message: wordsOf(r) })),
    };
  });
}

const anchor = (name: string): string => `#${name.toLowerCase()}`;
const cell = (text: string): string => text.replaceAll('|', '\\|');
const where = (production: boolean): string => (production ? 'production' : 'any environment');

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
    '(`apps/sync-server/src/config/config.ts`). A bad value stops it with a message naming each variable',
    '(exit code 78); an empty number, boolean or URL is refused, not read as 0, false or unset. Unset variables',
    'take their default; where there is none, the feature is off or, outside production, an embedded development',
    'default takes its place (embedded PostgreSQL, disk storage, generated keys, the development OIDC issuer and',
    'Patient/Doctor Services).',
    '',
    'With `NODE_ENV=production` the startup rules refuse every embedded or development default. Everything',
    'below is generated from the schema in config.ts: each variable with its type, default and description,',
    'and the rules it checks (all reported together; a value of the wrong type is reported with what production',
    'requires, the other rules once it is fixed); `…` stands for the value found.',
    '',
    '## Required in production',
    '',
    '| variable | the server says when it is missing |',
    '| --- | --- |',
    ...required.map((v) => `| [\`${v.name}\`](${anchor(v.name)}) | ${cell(v.requiredInProduction ?? '')} |`),
    '',
    '## Also checked',
    '',
    '| variable | refused when | where | the server says |',
    '| --- | --- | --- | --- |',
    ...checked.flatMap((v) =>
      v.checks.map(
        (c) => `| [\`${v.name}\`](${anchor(v.name)}) | ${cell(c.when)} | ${where(c.production)} | ${cell(c.message)} |`,
      ),
    ),
    '',
    '## All variables',
    '',
    '| variable | default | rules |',
    '| --- | --- | --- |',
    ...vars.map(
      (v) =>
        `| [\`${v.name}\`](${anchor(v.name)}) | ${cell(v.default ?? '—')} | ${v.requiredInProduction ? '**required** in production' : v.checks.length ? 'checked' : ''} |`,
    ),
    '',
    '## Details',
    '',
  ];
  for (const v of vars) {
    out.push(`### \`${v.name}\``, '', v.description, '', `- Type: ${v.type}`, `- Default: ${v.default ?? 'none'}`);
    if (v.requiredInProduction) out.push(`- Production: **required**. The server says: ${v.requiredInProduction}`);
    for (const c of v.checks)
      out.push(`- Refused (${where(c.production)}) when ${c.when}. The server says: ${c.message}`);
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
