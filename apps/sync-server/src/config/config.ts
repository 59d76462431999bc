import path from 'node:path';
import { z } from 'zod';
import { DEV_KEY_PREFIX } from '../keys/dev-keys.ts';
import type { KeySettings } from '../keys/key.service.ts';

/**
 * Every setting the server reads, parsed once at startup from the environment.
 * Unset means "embedded default" (embedded PostgreSQL, disk storage under DATA_DIR).
 */
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const bytes = z.coerce.number().int().positive();

/** JWS algorithms a token may be signed with: asymmetric only (no HS*: the verifier holds no shared secret; never none). */
export const ASYMMETRIC_JWT_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;
export type JwtAlgorithm = (typeof ASYMMETRIC_JWT_ALGORITHMS)[number];
const DEFAULT_JWT_ALGORITHMS: JwtAlgorithm[] = ['RS256', 'PS256', 'ES256', 'EdDSA'];
const isJwtAlgorithm = (v: string): v is JwtAlgorithm => ASYMMETRIC_JWT_ALGORITHMS.some((a) => a === v);

export const EnvSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  HOST: z.string().default('127.0.0.1').describe('Interface to listen on.'),
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  PUBLIC_URL: z
    .url()
    .optional()
    .describe(
      'Public base URL, path prefix included: tus Location headers behind a proxy, and the links in events (`links.self`, `links.download`). Unset: the address this instance listens on, which a consumer behind another network cannot follow. Required in production when events are delivered (DOCTOR_SERVICE_URL or AMQP_URL); https there (or loopback).',
    ),
  TRUST_PROXY: z
    .string()
    .default('')
    .describe(
      'Comma-separated proxies (IPs, CIDRs or loopback/linklocal/uniquelocal) whose X-Forwarded-* headers are honoured. Empty: none.',
    ),
  DATA_DIR: z.string().default('./.data').describe('Embedded PostgreSQL data and disk object storage.'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_FORMAT: z
    .enum(['auto', 'json', 'pretty'])
    .default('auto')
    .describe(
      '`json`: one JSON object per line, for log collectors. `pretty`: text for a person (pino-pretty), development only. `auto`: pretty when NODE_ENV is development and stdout is a terminal (`npm start`), else json.',
    ),

  DATABASE_URL: z
    .string()
    .optional()
    .describe(
      "PostgreSQL connection string of the application's own role (with DATABASE_OWNER_URL: a role that may only INSERT and SELECT on audit_events). Unset: embedded PostgreSQL in DATA_DIR.",
    ),
  DATABASE_OWNER_URL: z
    .string()
    .optional()
    .describe(
      "Connection string of the role that owns the schema: migrations run with it at startup, and it grants DATABASE_URL's role what the application needs (audit_events: INSERT and SELECT only). Unset outside production: DATABASE_URL (or the embedded database) owns the schema and the application drops to the role `xray_app` on each connection, which is not a boundary. Required in production, as another role than DATABASE_URL's.",
    ),
  DATABASE_POOL_MAX: z.coerce.number().int().positive().default(10),
  DATABASE_CONNECT_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .positive()
    .default(3_000)
    .describe(
      'Longest wait for a database connection (opening one, or a free one in the pool) before a request is answered 503 with Retry-After.',
    ),
  DATABASE_STATEMENT_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .positive()
    .default(5_000)
    .describe(
      "PostgreSQL's statement_timeout for the server's connections; a statement that gets no answer within this plus 1 s (a hung or unreachable database) is abandoned by the client. With DATABASE_CONNECT_TIMEOUT_MS it bounds how long a request can wait on the database (default: under 10 s).",
    ),
  DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .positive()
    .default(30_000)
    .describe(
      "PostgreSQL's idle_in_transaction_session_timeout for the server's connections: a transaction left open by a stalled process is ended and its locks released.",
    ),
  MIGRATION_LOCK_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .positive()
    .default(3_000)
    .describe(
      "PostgreSQL's lock_timeout for each migration: a migration that cannot take its table lock within this (a long read holds it) fails, is rolled back and retried after a pause, instead of queueing every other query on that table behind it.",
    ),
  MIGRATION_RETRY_MS: z.coerce
    .number()
    .int()
    .positive()
    .default(600_000)
    .describe(
      'How long a starting replica keeps retrying migrations that time out on a lock, and waits for another replica holding the migration lock, before it gives up and exits.',
    ),
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
  TUS_CLEANUP_INTERVAL_MS: z.coerce
    .number()
    .int()
    .positive()
    .default(10 * 60 * 1000),
  TUS_S3_USE_TAGS: bool.default(false).describe('Tag finished tus objects (S3 object tagging; Swift s3api has none).'),
  TUS_LOCK_POOL_MAX: z.coerce
    .number()
    .int()
    .positive()
    .default(50)
    .describe('Connections for upload locks: the most uploads one instance writes at once.'),
  UPLOAD_IDLE_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .positive()
    .default(30_000)
    .describe('An upload request that sends no byte for this long is ended and its lock released.'),
  UPLOAD_MAX_PATCHES_PER_USER: z.coerce
    .number()
    .int()
    .positive()
    .default(4)
    .describe('Upload requests one user may have writing at once on one instance (more: 429).'),
  UPLOAD_MAX_OPEN_PER_USER: z.coerce
    .number()
    .int()
    .positive()
    .default(32)
    .describe('Unfinished uploads one user may hold (more: 429 until one finishes, is cancelled or expires).'),
  UPLOAD_MAX_RESERVED_BYTES_PER_USER: bytes
    .default(8 * 1024 * 1024 * 1024)
    .describe("Bytes one user's unfinished uploads may announce in all (more: 413)."),

  OIDC_ISSUER: z
    .url()
    .optional()
    .describe('OIDC issuer whose access tokens the API accepts. Unset in development: the built-in dev issuer.'),
  OIDC_AUDIENCE: z.string().min(1).default('xray-api').describe('Required `aud` of access tokens.'),
  OIDC_ROLES_CLAIM: z
    .string()
    .regex(/^[^.\s]+(\.[^.\s]+)*$/, 'must be a dotted claim path such as roles or realm_access.roles')
    .default('roles')
    .describe('Dotted path of the roles claim in the access token (Keycloak: realm_access.roles).'),
  OIDC_ALGORITHMS: z
    .string()
    .default(DEFAULT_JWT_ALGORITHMS.join(','))
    .describe(`Accepted JWS algorithms, comma-separated; asymmetric only (${ASYMMETRIC_JWT_ALGORITHMS.join(', ')}).`),
  OIDC_CLOCK_TOLERANCE_S: z.coerce
    .number()
    .int()
    .min(0)
    .max(300)
    .default(30)
    .describe('Clock skew allowed on exp, nbf and iat (a token issued further in the future is refused), in seconds.'),
  OIDC_JWKS_COOLDOWN_S: z.coerce
    .number()
    .int()
    .min(0)
    .default(30)
    .describe('A token with an unknown key id refetches the JWKS at most once per this many seconds.'),
  OIDC_ACCEPT_JWT_TYP: bool
    .default(false)
    .describe(
      "Also accept access tokens whose header `typ` is `JWT`, for issuers that cannot mark them `at+jwt` (RFC 9068). Off: only `at+jwt`, so no other JWT of the issuer (an ID token) passes for an access token. Keycloak 26.2+ issues `at+jwt` per client (the stack's realm sets it).",
    ),
  AUTH_FAILURE_LIMIT: z.coerce
    .number()
    .int()
    .positive()
    .default(20)
    .describe(
      'Failed authentications (401) one client address (IPv6: its /64) may have per window; past it, its requests that do not authenticate get 429 with Retry-After, while a token that verifies is still served. Counted per instance.',
    ),
  AUTH_FAILURE_WINDOW_MS: z.coerce
    .number()
    .int()
    .positive()
    .default(60_000)
    .describe(
      "Window of AUTH_FAILURE_LIMIT, from a client's first failure. The first failure is audited as it happens, the rest of the window as one access.denied event with their count when it closes.",
    ),
  AUTH_DISABLED: bool
    .default(false)
    .describe('Development/test only: every request acts as one local user with every role. Refused in production.'),
  DPOP_BEARER_ALLOWED: bool
    .default(true)
    .describe(
      "Accept plain bearer tokens (not bound to a key) from roles not in DPOP_REQUIRED_ROLES: doctors' systems. Off: every request needs a DPoP-bound token and its proof (RFC 9449).",
    ),
  DPOP_REQUIRED_ROLES: z
    .string()
    .default('paramedic')
    .describe(
      'Comma-separated roles whose tokens must be DPoP-bound (edge devices): a plain bearer token of such a user is refused with `dpop_required`. Empty: none.',
    ),
  DPOP_ALGORITHMS: z
    .string()
    .default('ES256,EdDSA,PS256')
    .refine((v) => v.split(',').every((a) => isJwtAlgorithm(a.trim())), {
      message: `each must be one of ${ASYMMETRIC_JWT_ALGORITHMS.join(', ')}`,
    })
    .describe('Algorithms a DPoP proof may be signed with, comma-separated; asymmetric only.'),
  DPOP_IAT_WINDOW_S: z.coerce
    .number()
    .int()
    .min(5)
    .max(600)
    .default(60)
    .describe(
      "How far a DPoP proof's `iat` may be from the server's clock, in seconds (either way). Used proof ids are remembered in PostgreSQL for this long, shared by every instance.",
    ),
  DEV_OIDC_PORT: z.coerce
    .number()
    .int()
    .min(0)
    .max(65535)
    .default(8081)
    .describe('Port of the development OIDC issuer that `npm start` runs when OIDC_ISSUER is unset.'),
  TLS_TERMINATED_BY_PROXY: bool
    .default(false)
    .describe(
      'A proxy in front terminates TLS. Required in production when HOST is not a loopback address. Also turns on HSTS (`Strict-Transport-Security`).',
    ),
  CORS_ALLOWED_ORIGINS: z
    .string()
    .default('')
    .describe(
      'Comma-separated origins (`https://host[:port]`) other than our own whose browser pages may call the API and /uploads. Empty: same-origin only (the edge app served here, and PUBLIC_URL). Never `*` or `null`.',
    ),
  METRICS_PORT: z
    .union([z.literal('off'), z.coerce.number().int().min(0).max(65535)])
    .default(9464)
    .describe(
      'Port of the Prometheus listener (`GET /metrics`), apart from the API port; 0 picks a free one; `off`: no metrics.',
    ),
  METRICS_HOST: z
    .string()
    .default('127.0.0.1')
    .describe(
      'Interface of the metrics listener; set it to the internal network Prometheus scrapes from, never a public one.',
    ),

  KEK: z
    .string()
    .regex(
      /^[A-Za-z0-9._-]+:[A-Za-z0-9+/=]+(,[A-Za-z0-9._-]+:[A-Za-z0-9+/=]+)*$/,
      'must be id:base64key[,id:base64key…]',
    )
    .optional()
    .describe(
      "Key-encryption keys that wrap each X-ray's data key: `id:base64(32 bytes)`, comma-separated (old ones stay listed until rotate-kek has moved every X-ray off them). Unset outside production: generated development keys in DATA_DIR/keys.",
    ),
  KEK_CURRENT_ID: z.string().optional().describe('The KEK id new X-rays are wrapped with (default: the first in KEK).'),
  UPLOAD_PRIVATE_KEY: z
    .string()
    .optional()
    .describe(
      'PEM of the RSA private key (at least 3072 bits) edges wrap data keys for (published at /keys/upload). `\\n` escapes are accepted. Unset outside production: a generated development key.',
    ),
  UPLOAD_PREVIOUS_PRIVATE_KEY: z
    .string()
    .optional()
    .describe(
      'PEM of the upload key before the last rotation: still published at /keys/upload (after the current one, which it signs so pinned edges trust the new key) and accepted for uploads wrapped for it. Set it when rotating UPLOAD_PRIVATE_KEY; remove it once every edge has synced since.',
    ),

  AUDIT_ANCHOR_KEY: z
    .string()
    .optional()
    .describe(
      'PEM of the Ed25519 private key (PKCS#8) that signs audit checkpoints; keep it off the database host. `\\n` escapes are accepted. Unset outside production: a generated development key in DATA_DIR/keys.',
    ),
  AUDIT_CHECKPOINT_EVERY: z.coerce
    .number()
    .int()
    .positive()
    .default(1000)
    .describe('A signed checkpoint of the audit chain is written once this many events are not yet covered by one.'),
  AUDIT_CHECKPOINT_INTERVAL_MS: z.coerce
    .number()
    .int()
    .positive()
    .default(5 * 60 * 1000)
    .describe(
      'No audit event stays without a checkpoint much longer than this (each instance looks every second, or this often when shorter).',
    ),
  AUDIT_CHECKPOINT_BUCKET: z
    .string()
    .optional()
    .describe(
      'S3 bucket for audit checkpoints (prefix `audit-checkpoints/`). Unset: S3_BUCKET (or DATA_DIR/objects on disk). A bucket of their own can have Object Lock and a write-only policy.',
    ),
  AUDIT_CHECKPOINT_LOCK_DAYS: z.coerce
    .number()
    .int()
    .min(0)
    .max(36500)
    .default(0)
    .describe(
      'S3 Object Lock retention given to each checkpoint, in days (the bucket must have been created with Object Lock; Swift s3api has none). 0: no lock.',
    ),
  AUDIT_CHECKPOINT_LOCK_MODE: z
    .enum(['governance', 'compliance'])
    .default('compliance')
    .describe(
      'Object Lock mode of checkpoints when AUDIT_CHECKPOINT_LOCK_DAYS > 0 (compliance: nobody can delete them early).',
    ),

  EDGE_APP_DIR: z
    .string()
    .optional()
    .describe('Directory of a built edge web app to serve at / (same origin as the API). Unset: none served.'),
  OPENAPI_RESPONSE_CHECK: z
    .string()
    .optional()
    .describe(
      'For test suites: a file to which every response that differs from openapi.json (status, Content-Type, headers, JSON body) is appended, with each operation answered. Unset (always, outside tests): no check is installed.',
    ),
  EDGE_OFFLINE_GRACE_MS: z.coerce
    .number()
    .int()
    .min(60_000)
    .max(7 * 24 * 60 * 60 * 1000)
    .default(12 * 60 * 60 * 1000)
    .describe(
      'Offline grace period of the edge app (sent in /edge-config): after this long without reaching the server, the app asks for a sign-in before it shows any patient details again (capturing never waits). 1 min to 7 days; default 12 h.',
    ),
  EDGE_UPLOAD_STALL_MS: z.coerce
    .number()
    .int()
    .min(2_000)
    .max(10 * 60 * 1000)
    .default(20_000)
    .describe(
      'Stall timeout of the edge app (sent in /edge-config): an upload request that makes no progress for this long is aborted and resumed from the server offset with backoff. 2 s to 10 min; default 20 s.',
    ),

  PATIENT_SERVICE_URL: z
    .url()
    .optional()
    .describe(
      'Base URL of the Patient Service (GET /patients/{id}, GET /consultations/{id}). Unset: links are not checked (status unchecked); required in production; `npm start` runs a development one.',
    ),
  PATIENT_SERVICE_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .positive()
    .default(3000)
    .describe('Timeout of one Patient Service request (background checks).'),
  PATIENT_SERVICE_RETRIES: z.coerce
    .number()
    .int()
    .min(0)
    .max(10)
    .default(2)
    .describe('Retries (exponential backoff with jitter) of a background Patient Service request.'),
  PATIENT_CACHE_TTL_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(30_000)
    .describe('How long a found patient or consultation is cached (not-found answers are never cached).'),
  LINK_CHECK_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .positive()
    .default(1500)
    .describe(
      'Budget of the link check an upload or a correction waits for (one try); past it the X-ray is stored with link pending.',
    ),
  LINK_RECHECK_INTERVAL_MS: z.coerce
    .number()
    .int()
    .positive()
    .default(15_000)
    .describe('How often each instance looks for pending links; also the first re-check delay (then doubling).'),
  LINK_RECHECK_MAX_MS: z.coerce
    .number()
    .int()
    .positive()
    .default(10 * 60 * 1000)
    .describe('Longest wait between two checks of one pending link.'),

  DOCTOR_SERVICE_URL: z
    .url()
    .optional()
    .describe(
      'Webhook the events are POSTed to (HMAC-signed). Unset: no webhook; `npm start` runs a development Doctor Service.',
    ),
  WEBHOOK_SECRET: z
    .string()
    .min(16, 'must be at least 16 characters')
    .optional()
    .describe('HMAC-SHA256 key of the webhook signature; required with DOCTOR_SERVICE_URL.'),
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000).describe('Timeout of one webhook POST.'),
  AMQP_URL: z
    .string()
    .regex(/^amqps?:\/\//, 'must be an amqp:// or amqps:// URL')
    .optional()
    .describe('RabbitMQ to publish events to. Unset: no AMQP.'),
  AMQP_EXCHANGE: z
    .string()
    .min(1)
    .max(255)
    .default('xray.events')
    .describe('Durable topic exchange; routing key = event type.'),
  AMQP_CONFIRM_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .positive()
    .default(10_000)
    .describe("How long a publish waits for the broker's confirm."),

  OUTBOX_POLL_INTERVAL_MS: z.coerce
    .number()
    .int()
    .positive()
    .default(1000)
    .describe("How often each instance's relay looks for due events."),
  OUTBOX_BATCH_SIZE: z.coerce
    .number()
    .int()
    .min(1)
    .max(500)
    .default(20)
    .describe('Deliveries one relay claims per turn (and delivers concurrently).'),
  OUTBOX_MAX_ATTEMPTS: z.coerce
    .number()
    .int()
    .min(1)
    .default(12)
    .describe('Attempts per event and sink before it is parked as dead (GET /admin/outbox?state=dead).'),
  OUTBOX_BACKOFF_BASE_MS: z.coerce
    .number()
    .int()
    .positive()
    .default(1000)
    .describe('Delay after the first failed attempt; doubles each time, with jitter.'),
  OUTBOX_BACKOFF_MAX_MS: z.coerce
    .number()
    .int()
    .positive()
    .default(10 * 60 * 1000)
    .describe('Longest wait between two delivery attempts of one event.'),
  OUTBOX_PROBE_INTERVAL_MS: z.coerce
    .number()
    .int()
    .positive()
    .default(5000)
    .describe(
      'While a sink is unreachable, one waiting delivery to it is tried at least this often (its own backoff aside), so the relay notices the sink is back; the moment a delivery to it succeeds, every delivery waiting for it is due at once and its backoff starts over.',
    ),
  OUTBOX_RETENTION_DAYS: z.coerce
    .number()
    .positive()
    .default(7)
    .describe(
      'Delivered events are removed from the outbox this long after they were created (pending and dead ones stay until handled).',
    ),
  OUTBOX_LEASE_MS: z.coerce
    .number()
    .int()
    .positive()
    .default(60_000)
    .describe(
      'A claimed delivery belongs to its relay this long; must exceed WEBHOOK_TIMEOUT_MS and AMQP_CONFIRM_TIMEOUT_MS.',
    ),

  DEV_PATIENT_PORT: z.coerce
    .number()
    .int()
    .min(0)
    .max(65535)
    .default(8082)
    .describe('Port of the development Patient Service `npm start` runs when PATIENT_SERVICE_URL is unset.'),
  DEV_DOCTOR_PORT: z.coerce
    .number()
    .int()
    .min(0)
    .max(65535)
    .default(8083)
    .describe('Port of the development Doctor Service `npm start` runs when DOCTOR_SERVICE_URL is unset.'),

  MAX_UPLOAD_BYTES: bytes
    .max(4 * 1024 * 1024 * 1024)
    .default(1024 * 1024 * 1024)
    .describe('Largest X-ray accepted, in bytes (at most 4 GiB: a stored upload is one S3 server-side copy).'),
  CAPTURE_TIME_MAX_SKEW_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(24 * 60 * 60 * 1000)
    .default(5 * 60 * 1000)
    .describe(
      "How far ahead of the server's clock an X-ray's `capturedAt` may be (a device clock running fast), on every upload door; later is refused (400, field `metadata.capturedAt`). At most 24 h.",
    ),
  SHUTDOWN_GRACE_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(10_000)
    .describe(
      'On SIGTERM: the longest the whole shutdown takes. Running requests get all but the last 3 s (at most a third) of it, kept-alive connections are closed as their requests finish, and what is left (background work, the last audit checkpoint, closing pools) is cut off at the end, so a hung database cannot hold a stop.',
    ),
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
  http: {
    host: string;
    port: number;
    publicUrl: string | undefined;
    trustProxy: string[];
    shutdownGraceMs: number;
    /** A proxy in front terminates TLS; we ourselves serve plain HTTP. */
    tlsTerminatedByProxy: boolean;
    /** Origins whose pages may read our answers (CORS); empty: same-origin only. */
    corsAllowedOrigins: string[];
  };
  /** The Prometheus listener, apart from the API; undefined: off. */
  metrics: { host: string; port: number } | undefined;
  dataDir: string;
  logLevel: Env['LOG_LEVEL'];
  /** `auto` already decided: pretty only in development on a terminal, or when asked for there. */
  logFormat: 'json' | 'pretty';
  db: {
    url: string | undefined;
    /** The schema's owner (migrations, GRANTs); undefined: `url` owns it (outside production only). */
    ownerUrl: string | undefined;
    poolMax: number;
    embeddedPort: number;
    connectTimeoutMs: number;
    statementTimeoutMs: number;
    idleInTransactionTimeoutMs: number;
    migrationLockTimeoutMs: number;
    migrationRetryMs: number;
  };
  storage: StorageConfig;
  audit: AuditConfig;
  limits: {
    maxUploadBytes: number;
    /** A capturedAt further ahead of our clock than this is refused. */
    captureTimeMaxSkewMs: number;
  };
  /** A built edge web app served at /, or undefined. */
  edgeAppDir: string | undefined;
  /** Test suites: the file the OpenAPI response check reports to (http/openapi.response-check.ts). */
  openapiResponseCheck: string | undefined;
  /** The edge app's offline grace period (ms), published in /edge-config. */
  edgeOfflineGraceMs: number;
  /** The edge app's upload stall timeout (ms), published in /edge-config. */
  edgeUploadStallMs: number;
  tus: {
    expiryMs: number;
    cleanupIntervalMs: number;
    s3UseTags: boolean;
    lockPoolMax: number;
    /** A silent upload request is ended after this. */
    idleTimeoutMs: number;
    /** Per user: writing requests at once (per instance), unfinished uploads, their announced bytes. */
    perUser: { maxPatches: number; maxOpen: number; maxReservedBytes: number };
  };
  auth: AuthConfig;
  /** Unset: development keys from DATA_DIR (refused in production by the config guard). */
  keys: KeySettings | undefined;
  integrations: IntegrationsConfig;
  outbox: OutboxConfig;
}

export interface AuditConfig {
  /** PEM of the Ed25519 checkpoint signing key; undefined: the development key in DATA_DIR/keys. */
  anchorKeyPem: string | undefined;
  checkpoints: {
    every: number;
    intervalMs: number;
    /** S3 only: the bucket checkpoints go to (default: the X-ray bucket). */
    bucket: string | undefined;
    /** S3 Object Lock given to each checkpoint; undefined: none. */
    objectLock: { mode: 'GOVERNANCE' | 'COMPLIANCE'; days: number } | undefined;
  };
}

export interface IntegrationsConfig {
  /** Unset url: links are not checked (development with the dev service off, tests). */
  patientService: {
    url: string | undefined;
    timeoutMs: number;
    retries: number;
    cacheTtlMs: number;
    /** What an upload or a correction waits for the link at most (one try). */
    inlineTimeoutMs: number;
    recheckIntervalMs: number;
    recheckMaxMs: number;
    devPort: number;
  };
  doctorService: { url: string | undefined; secret: string | undefined; timeoutMs: number; devPort: number };
  amqp: { url: string | undefined; exchange: string; confirmTimeoutMs: number };
}

export interface OutboxConfig {
  pollIntervalMs: number;
  batchSize: number;
  maxAttempts: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** How often, at most, an unreachable sink goes untried (one waiting delivery probes it). */
  probeIntervalMs: number;
  leaseMs: number;
  /** Delivered events are pruned this long after they were created. */
  retentionMs: number;
}

export interface AuthConfig {
  /** Every request acts as one local user (development/test only, explicit). */
  disabled: boolean;
  /** Unset only in development (the dev issuer fills it in at startup) or when disabled. */
  issuer: string | undefined;
  audience: string;
  /** OIDC_ROLES_CLAIM split on dots: ['realm_access', 'roles']. */
  rolesClaim: string[];
  algorithms: JwtAlgorithm[];
  clockToleranceS: number;
  jwksCooldownS: number;
  /** Also accept `typ: JWT` (issuers that cannot issue RFC 9068 `at+jwt`). */
  acceptJwtTyp: boolean;
  /** Failed authentications per client address and window before it gets 429s. */
  failures: { limit: number; windowMs: number };
  devIssuerPort: number;
  dpop: DpopConfig;
}

export interface DpopConfig {
  /** Plain bearer tokens are accepted from roles not in requiredRoles. */
  bearerAllowed: boolean;
  requiredRoles: string[];
  algorithms: JwtAlgorithm[];
  iatWindowS: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

interface ConfigProblem {
  variable: string;
  message: string;
}

const LOOPBACK_HOSTS = new Set(['localhost', '::1', '[::1]']);
const isLoopbackHost = (host: string): boolean => LOOPBACK_HOSTS.has(host) || /^127(\.\d{1,3}){3}$/.test(host);

/**
 * CORS_ALLOWED_ORIGINS, each an exact origin (no path, no wildcard, never `null`), plus PUBLIC_URL's
 * origin; in production only https ones (or loopback).
 */
function parseOrigins(e: Env): string[] | ConfigProblem {
  const given = e.CORS_ALLOWED_ORIGINS.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = given.filter((o) => {
    const u = URL.parse(o);
    return !u || u.origin !== o || (u.protocol !== 'https:' && u.protocol !== 'http:');
  });
  if (bad.length)
    return {
      variable: 'CORS_ALLOWED_ORIGINS',
      message: `"${bad.join('", "')}" not an origin; list origins such as https://edge.example.org (no path, no *)`,
    };
  const plain = given.filter((o) => o.startsWith('http:') && !isLoopbackHost(new URL(o).hostname));
  if (e.NODE_ENV === 'production' && plain.length)
    return {
      variable: 'CORS_ALLOWED_ORIGINS',
      message: `"${plain.join('", "')}" is plain http; only https origins (or loopback) may read patient data in production`,
    };
  const own = e.PUBLIC_URL ? [new URL(e.PUBLIC_URL).origin] : [];
  return [...new Set([...own, ...given])];
}

function parseAlgorithms(raw: string): JwtAlgorithm[] | ConfigProblem {
  const names = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = names.filter((n) => !isJwtAlgorithm(n));
  if (bad.length || names.length === 0)
    return {
      variable: 'OIDC_ALGORITHMS',
      message: `${bad.length ? `"${bad.join('", "')}" not accepted` : 'empty'}; use asymmetric algorithms only (${ASYMMETRIC_JWT_ALGORITHMS.join(', ')})`,
    };
  return names.filter(isJwtAlgorithm);
}

/**
 * What production must have: nothing embedded, nothing development-only, no plain HTTP beyond
 * this machine. Each problem names the variable to set.
 */
function productionProblems(e: Env): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (e.AUTH_DISABLED) problems.push({ variable: 'AUTH_DISABLED', message: 'must not be true in production' });
  if (!e.OIDC_ISSUER) {
    problems.push({
      variable: 'OIDC_ISSUER',
      message: 'required in production (the development issuer never runs there)',
    });
  } else {
    const issuer = new URL(e.OIDC_ISSUER);
    if (issuer.protocol !== 'https:' && !isLoopbackHost(issuer.hostname))
      problems.push({
        variable: 'OIDC_ISSUER',
        message: 'must be an https URL in production (keys are fetched from it)',
      });
  }
  if (!isLoopbackHost(e.HOST) && !e.TLS_TERMINATED_BY_PROXY)
    problems.push({
      variable: 'TLS_TERMINATED_BY_PROXY',
      message: `HOST=${e.HOST} serves plain HTTP beyond this machine; put a TLS-terminating proxy in front and set TLS_TERMINATED_BY_PROXY=true (or bind HOST to loopback)`,
    });
  if (!e.DATABASE_URL)
    problems.push({ variable: 'DATABASE_URL', message: 'required in production (no embedded PostgreSQL there)' });
  if (!e.DATABASE_OWNER_URL)
    problems.push({
      variable: 'DATABASE_OWNER_URL',
      message:
        "required in production: the schema's owner runs migrations, so that DATABASE_URL's role cannot alter, empty or unprotect the audit trail",
    });
  else if (e.DATABASE_URL && sameDatabaseRole(e.DATABASE_URL, e.DATABASE_OWNER_URL))
    problems.push({
      variable: 'DATABASE_OWNER_URL',
      message: "logs in as the same role as DATABASE_URL; the application's role must not own the schema",
    });
  if (!e.S3_BUCKET)
    problems.push({ variable: 'S3_BUCKET', message: 'required in production (no local-disk object storage there)' });
  if (!e.KEK)
    problems.push({
      variable: 'KEK',
      message: 'required in production (development keys are generated only outside it)',
    });
  else if (e.KEK.split(',').some((k) => k.startsWith(DEV_KEY_PREFIX)))
    problems.push({
      variable: 'KEK',
      message: `holds a development key (id starting with "${DEV_KEY_PREFIX}"); generate real keys`,
    });
  if (!e.UPLOAD_PRIVATE_KEY) problems.push({ variable: 'UPLOAD_PRIVATE_KEY', message: 'required in production' });
  if (!e.AUDIT_ANCHOR_KEY)
    problems.push({
      variable: 'AUDIT_ANCHOR_KEY',
      message:
        'required in production (the key that signs audit checkpoints; development keys are generated only outside it)',
    });
  if (!e.PATIENT_SERVICE_URL)
    problems.push({
      variable: 'PATIENT_SERVICE_URL',
      message: 'required in production (X-rays must be linked to real patients; no development service there)',
    });
  // Events keep their links for good (outbox, consumers' worklists): without PUBLIC_URL they would
  // name this instance's own listening address (plain http, behind the proxy, one per instance),
  // which a consumer would follow with its bearer token.
  if ((e.DOCTOR_SERVICE_URL || e.AMQP_URL) && !e.PUBLIC_URL)
    problems.push({
      variable: 'PUBLIC_URL',
      message:
        "required in production when events are delivered (DOCTOR_SERVICE_URL, AMQP_URL): their links are built on it; set the API's public https URL, path prefix included",
    });
  const publicUrl = e.PUBLIC_URL ? new URL(e.PUBLIC_URL) : undefined;
  if (publicUrl && publicUrl.protocol !== 'https:' && !isLoopbackHost(publicUrl.hostname))
    problems.push({
      variable: 'PUBLIC_URL',
      message:
        'must be an https URL in production (clients follow the event links and tus Location URLs built on it with their tokens; its origin may read the API from a browser)',
    });
  return problems;
}

/** Two connection strings log in as one role (same user name; or, with no user name, the same string). */
function sameDatabaseRole(a: string, b: string): boolean {
  if (a === b) return true;
  const userOf = (url: string) => URL.parse(url)?.username ?? '';
  const [ua, ub] = [userOf(a), userOf(b)];
  return ua !== '' && decodeURIComponent(ua) === decodeURIComponent(ub);
}

/** Audit settings that never make sense, whatever the environment. */
function auditProblems(e: Env): ConfigProblem[] {
  if (e.AUDIT_CHECKPOINT_BUCKET && !e.S3_BUCKET)
    return [
      {
        variable: 'AUDIT_CHECKPOINT_BUCKET',
        message: 'needs S3 storage (S3_BUCKET); on disk checkpoints go to DATA_DIR',
      },
    ];
  if (e.AUDIT_CHECKPOINT_LOCK_DAYS > 0 && !e.S3_BUCKET)
    return [{ variable: 'AUDIT_CHECKPOINT_LOCK_DAYS', message: 'Object Lock needs S3 storage (S3_BUCKET)' }];
  return [];
}

/** Integration settings that never make sense, whatever the environment. */
function integrationProblems(e: Env): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  // An unsigned webhook cannot be told from a forged one: no webhook without its key.
  if (e.DOCTOR_SERVICE_URL && !e.WEBHOOK_SECRET)
    problems.push({
      variable: 'WEBHOOK_SECRET',
      message: 'required when DOCTOR_SERVICE_URL is set (webhooks are signed)',
    });
  // A lease shorter than an attempt would let a second relay deliver the same event meanwhile.
  const longest = Math.max(e.WEBHOOK_TIMEOUT_MS, e.AMQP_CONFIRM_TIMEOUT_MS);
  if (e.OUTBOX_LEASE_MS < 2 * longest)
    problems.push({
      variable: 'OUTBOX_LEASE_MS',
      message: `must be at least twice the longest delivery timeout (${longest} ms)`,
    });
  if (e.OUTBOX_BACKOFF_MAX_MS < e.OUTBOX_BACKOFF_BASE_MS)
    problems.push({ variable: 'OUTBOX_BACKOFF_MAX_MS', message: 'must not be below OUTBOX_BACKOFF_BASE_MS' });
  return problems;
}

function keySettings(e: Env): KeySettings | undefined {
  if (!e.KEK && !e.UPLOAD_PRIVATE_KEY) return undefined;
  if (!e.KEK || !e.UPLOAD_PRIVATE_KEY)
    throw new ConfigError('Invalid configuration:\n  KEK and UPLOAD_PRIVATE_KEY go together: set both or neither');
  const keks = e.KEK.split(',').map((pair) => {
    const [id = '', key = ''] = pair.split(':');
    return { id, key };
  });
  const currentKekId = e.KEK_CURRENT_ID ?? keks[0]?.id ?? '';
  if (!keks.some((k) => k.id === currentKekId))
    throw new ConfigError(`Invalid configuration:\n  KEK_CURRENT_ID: ${currentKekId} is not an id in KEK`);
  return {
    keks,
    currentKekId,
    uploadPrivateKeyPem: e.UPLOAD_PRIVATE_KEY.replaceAll('\\n', '\n'),
    ...(e.UPLOAD_PREVIOUS_PRIVATE_KEY
      ? { uploadPreviousPrivateKeyPem: e.UPLOAD_PREVIOUS_PRIVATE_KEY.replaceAll('\\n', '\n') }
      : {}),
  };
}

/** Parses the environment into the typed config; throws a readable ConfigError naming each bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const algorithms = parseAlgorithms(e.OIDC_ALGORITHMS);
  const origins = parseOrigins(e);
  const problems = [
    ...(Array.isArray(algorithms) ? [] : [algorithms]),
    ...(Array.isArray(origins) ? [] : [origins]),
    ...integrationProblems(e),
    // Log collectors (and the tests) read JSON lines: text only where a person reads along.
    ...(e.LOG_FORMAT === 'pretty' && e.NODE_ENV !== 'development'
      ? [{ variable: 'LOG_FORMAT', message: 'pretty is for development only (NODE_ENV=development)' }]
      : []),
    ...auditProblems(e),
    ...(e.NODE_ENV === 'production' ? productionProblems(e) : []),
  ];
  if (problems.length || !Array.isArray(algorithms) || !Array.isArray(origins)) {
    const lines = problems.map((p) => `  ${p.variable}: ${p.message}`);
    throw new ConfigError(
      `Invalid configuration${e.NODE_ENV === 'production' ? ' for production' : ''}:\n${lines.join('\n')}`,
    );
  }
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
      tlsTerminatedByProxy: e.TLS_TERMINATED_BY_PROXY,
      corsAllowedOrigins: origins,
    },
    metrics: e.METRICS_PORT === 'off' ? undefined : { host: e.METRICS_HOST, port: e.METRICS_PORT },
    dataDir,
    keys: keySettings(e),
    logLevel: e.LOG_LEVEL,
    logFormat:
      e.LOG_FORMAT === 'auto'
        ? e.NODE_ENV === 'development' && process.stdout.isTTY
          ? 'pretty'
          : 'json'
        : e.LOG_FORMAT,
    db: {
      url: e.DATABASE_URL,
      ownerUrl: e.DATABASE_OWNER_URL,
      poolMax: e.DATABASE_POOL_MAX,
      embeddedPort: e.EMBEDDED_PG_PORT,
      connectTimeoutMs: e.DATABASE_CONNECT_TIMEOUT_MS,
      statementTimeoutMs: e.DATABASE_STATEMENT_TIMEOUT_MS,
      idleInTransactionTimeoutMs: e.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS,
      migrationLockTimeoutMs: e.MIGRATION_LOCK_TIMEOUT_MS,
      migrationRetryMs: e.MIGRATION_RETRY_MS,
    },
    storage,
    audit: {
      anchorKeyPem: e.AUDIT_ANCHOR_KEY?.replaceAll('\\n', '\n'),
      checkpoints: {
        every: e.AUDIT_CHECKPOINT_EVERY,
        intervalMs: e.AUDIT_CHECKPOINT_INTERVAL_MS,
        bucket: e.AUDIT_CHECKPOINT_BUCKET,
        objectLock:
          e.AUDIT_CHECKPOINT_LOCK_DAYS > 0
            ? {
                mode: e.AUDIT_CHECKPOINT_LOCK_MODE === 'compliance' ? 'COMPLIANCE' : 'GOVERNANCE',
                days: e.AUDIT_CHECKPOINT_LOCK_DAYS,
              }
            : undefined,
      },
    },
    limits: { maxUploadBytes: e.MAX_UPLOAD_BYTES, captureTimeMaxSkewMs: e.CAPTURE_TIME_MAX_SKEW_MS },
    edgeAppDir: e.EDGE_APP_DIR ? path.resolve(e.EDGE_APP_DIR) : undefined,
    openapiResponseCheck: e.OPENAPI_RESPONSE_CHECK ? path.resolve(e.OPENAPI_RESPONSE_CHECK) : undefined,
    edgeOfflineGraceMs: e.EDGE_OFFLINE_GRACE_MS,
    edgeUploadStallMs: e.EDGE_UPLOAD_STALL_MS,
    tus: {
      expiryMs: e.TUS_EXPIRY_MS,
      cleanupIntervalMs: e.TUS_CLEANUP_INTERVAL_MS,
      s3UseTags: e.TUS_S3_USE_TAGS,
      lockPoolMax: e.TUS_LOCK_POOL_MAX,
      idleTimeoutMs: e.UPLOAD_IDLE_TIMEOUT_MS,
      perUser: {
        maxPatches: e.UPLOAD_MAX_PATCHES_PER_USER,
        maxOpen: e.UPLOAD_MAX_OPEN_PER_USER,
        maxReservedBytes: e.UPLOAD_MAX_RESERVED_BYTES_PER_USER,
      },
    },
    auth: {
      disabled: e.AUTH_DISABLED,
      issuer: e.OIDC_ISSUER,
      audience: e.OIDC_AUDIENCE,
      rolesClaim: e.OIDC_ROLES_CLAIM.split('.'),
      algorithms,
      clockToleranceS: e.OIDC_CLOCK_TOLERANCE_S,
      jwksCooldownS: e.OIDC_JWKS_COOLDOWN_S,
      acceptJwtTyp: e.OIDC_ACCEPT_JWT_TYP,
      failures: { limit: e.AUTH_FAILURE_LIMIT, windowMs: e.AUTH_FAILURE_WINDOW_MS },
      devIssuerPort: e.DEV_OIDC_PORT,
      dpop: {
        bearerAllowed: e.DPOP_BEARER_ALLOWED,
        requiredRoles: e.DPOP_REQUIRED_ROLES.split(',')
          .map((r) => r.trim())
          .filter(Boolean),
        algorithms: e.DPOP_ALGORITHMS.split(',')
          .map((a) => a.trim())
          .filter(isJwtAlgorithm),
        iatWindowS: e.DPOP_IAT_WINDOW_S,
      },
    },
    integrations: {
      patientService: {
        url: e.PATIENT_SERVICE_URL,
        timeoutMs: e.PATIENT_SERVICE_TIMEOUT_MS,
        retries: e.PATIENT_SERVICE_RETRIES,
        cacheTtlMs: e.PATIENT_CACHE_TTL_MS,
        inlineTimeoutMs: e.LINK_CHECK_TIMEOUT_MS,
        recheckIntervalMs: e.LINK_RECHECK_INTERVAL_MS,
        recheckMaxMs: e.LINK_RECHECK_MAX_MS,
        devPort: e.DEV_PATIENT_PORT,
      },
      doctorService: {
        url: e.DOCTOR_SERVICE_URL,
        secret: e.WEBHOOK_SECRET,
        timeoutMs: e.WEBHOOK_TIMEOUT_MS,
        devPort: e.DEV_DOCTOR_PORT,
      },
      amqp: { url: e.AMQP_URL, exchange: e.AMQP_EXCHANGE, confirmTimeoutMs: e.AMQP_CONFIRM_TIMEOUT_MS },
    },
    outbox: {
      pollIntervalMs: e.OUTBOX_POLL_INTERVAL_MS,
      batchSize: e.OUTBOX_BATCH_SIZE,
      maxAttempts: e.OUTBOX_MAX_ATTEMPTS,
      backoffBaseMs: e.OUTBOX_BACKOFF_BASE_MS,
      backoffMaxMs: e.OUTBOX_BACKOFF_MAX_MS,
      probeIntervalMs: e.OUTBOX_PROBE_INTERVAL_MS,
      leaseMs: e.OUTBOX_LEASE_MS,
      retentionMs: e.OUTBOX_RETENTION_DAYS * 24 * 60 * 60 * 1000,
    },
  };
}
