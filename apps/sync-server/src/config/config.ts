import path from 'node:path';
import { z } from 'zod';

/**
 * Every setting the server reads, parsed once at startup from the environment.
 * Unset means "embedded default" (embedded PostgreSQL, disk storage under DATA_DIR).
 */
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const bytes = z.coerce.number().int().positive();

export const EnvSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  HOST: z.string().default('127.0.0.1').describe('Interface to listen on.'),
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  PUBLIC_URL: z.url().optional().describe('Public base URL (used in tus Location headers behind a proxy).'),
  TRUST_PROXY: z
    .string()
    .default('')
    .describe(
      'Comma-separated proxies (IPs, CIDRs or loopback/linklocal/uniquelocal) whose X-Forwarded-* headers are honoured. Empty: none.',
    ),
  DATA_DIR: z.string().default('./.data').describe('Embedded PostgreSQL data and disk object storage.'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  DATABASE_URL: z.string().optional().describe('PostgreSQL connection string. Unset: embedded PostgreSQL in DATA_DIR.'),
  DATABASE_POOL_MAX: z.coerce.number().int().positive().default(10),
  EMBEDDED_PG_PORT: z.coerce.number().int().min(1).max(65535).default(54329),

  S3_BUCKET: z.string().optional().describe('Bucket for X-ray objects. Unset: disk storage in DATA_DIR/objects.'),
  S3_ENDPOINT: z.url().optional().describe('S3-compatible endpoint; unset means AWS.'),
  S3_REGION: z.string().default('us-east-1'),
  S3_ACCESS_KEY_ID: z.string().optional(),
  S3_SECRET_ACCESS_KEY: z.string().optional(),
  S3_FORCE_PATH_STYLE: bool.default(false),
  S3_CHECKSUMS_WHEN_REQUIRED: bool
    .default(false)
    .describe('Send/validate checksums only when required (Swift s3api, several S3-compatible stores).'),
  S3_CREATE_BUCKET: bool.default(false).describe('Create the bucket at startup when missing (development, tests).'),
  S3_PART_SIZE: bytes
    .min(5 * 1024 * 1024)
    .default(8 * 1024 * 1024)
    .describe('Multipart part size; S3 minimum is 5 MiB.'),
  S3_QUEUE_SIZE: z.coerce.number().int().min(1).max(16).default(4).describe('Parts uploaded concurrently.'),

  TUS_EXPIRY_MS: z.coerce
    .number()
    .int()
    .positive()
    .default(24 * 60 * 60 * 1000)
    .describe('An unfinished tus upload is removed this long after it was created.'),
  TUS_CLEANUP_INTERVAL_MS: z.coerce.number().int().positive().default(10 * 60 * 1000),
  TUS_S3_USE_TAGS: bool
    .default(false)
    .describe('Tag finished tus objects (S3 object tagging; Swift s3api has none).'),
  TUS_LOCK_POOL_MAX: z.coerce
    .number()
    .int()
    .positive()
    .default(50)
    .describe('Connections for upload locks: the most uploads one instance writes at once.'),

  MAX_UPLOAD_BYTES: bytes.default(1024 * 1024 * 1024).describe('Largest X-ray accepted, in bytes.'),
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(10_000),
});

export type Env = z.infer<typeof EnvSchema>;

export type StorageConfig =
  | { kind: 'fs'; dir: string }
  | {
      kind: 's3';
      bucket: string;
      endpoint: string | undefined;
      region: string;
      credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
      forcePathStyle: boolean;
      checksumsWhenRequired: boolean;
      createBucket: boolean;
      partSize: number;
      queueSize: number;
    };

export interface Config {
  env: Env['NODE_ENV'];
  http: { host: string; port: number; publicUrl: string | undefined; trustProxy: string[]; shutdownGraceMs: number };
  dataDir: string;
  logLevel: Env['LOG_LEVEL'];
  db: { url: string | undefined; poolMax: number; embeddedPort: number };
  storage: StorageConfig;
  limits: { maxUploadBytes: number };
  tus: { expiryMs: number; cleanupIntervalMs: number; s3UseTags: boolean; lockPoolMax: number };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses the environment into the typed config; throws a readable ConfigError naming each bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const dataDir = path.resolve(e.DATA_DIR);
  const storage: StorageConfig = e.S3_BUCKET
    ? {
        kind: 's3',
        bucket: e.S3_BUCKET,
        endpoint: e.S3_ENDPOINT,
        region: e.S3_REGION,
        credentials:
          e.S3_ACCESS_KEY_ID && e.S3_SECRET_ACCESS_KEY
            ? { accessKeyId: e.S3_ACCESS_KEY_ID, secretAccessKey: e.S3_SECRET_ACCESS_KEY }
            : undefined,
        forcePathStyle: e.S3_FORCE_PATH_STYLE,
        checksumsWhenRequired: e.S3_CHECKSUMS_WHEN_REQUIRED,
        createBucket: e.S3_CREATE_BUCKET,
        partSize: e.S3_PART_SIZE,
        queueSize: e.S3_QUEUE_SIZE,
      }
    : { kind: 'fs', dir: path.join(dataDir, 'objects') };
  return {
    env: e.NODE_ENV,
    http: {
      host: e.HOST,
      port: e.PORT,
      publicUrl: e.PUBLIC_URL,
      trustProxy: e.TRUST_PROXY.split(',')
        .map((s) => s.trim())
        .filter(Boolean),
      shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    },
    dataDir,
    logLevel: e.LOG_LEVEL,
    db: { url: e.DATABASE_URL, poolMax: e.DATABASE_POOL_MAX, embeddedPort: e.EMBEDDED_PG_PORT },
    storage,
    limits: { maxUploadBytes: e.MAX_UPLOAD_BYTES },
    tus: {
      expiryMs: e.TUS_EXPIRY_MS,
      cleanupIntervalMs: e.TUS_CLEANUP_INTERVAL_MS,
      s3UseTags: e.TUS_S3_USE_TAGS,
      lockPoolMax: e.TUS_LOCK_POOL_MAX,
    },
  };
}
