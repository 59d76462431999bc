import path from 'node:path';
import { z } from 'zod';
import { DEV_KEY_PREFIX } from '../keys/dev-keys.ts';
import type { KeySettings } from '../keys/key.service.ts';

/**
 * Every setting the server reads, parsed once at startup from the environment. This schema is the
 * only statement of each variable: its type, bounds, default and description (docs/configuration.md
 * is generated from it), the rules between variables (CONFIG_RULES, checked together), and the
 * transform into the nested `Config` the rest of the server reads (its type is inferred).
 * Unset means "embedded default" (embedded PostgreSQL, disk storage under DATA_DIR).
 */

/** A boolean variable: `true`/`false`, `1`/`0`, `yes`/`no`, nothing else. */
const bool = (fallback: boolean) =>
  z.stringbool({ truthy: ['true', '1', 'yes'], falsy: ['false', '0', 'no'], case: 'sensitive' }).default(fallback);

/**
 * An integer variable: decimal digits, positive unless bounds are given. Not coerced: `Number()`
 * would read an empty value (`PORT=` in an env file) as 0, a free port or no grace at all, and
 * `10s` as NaN; each is refused with what was found.
 */
const integer = (bounds: { min?: number; max?: number } = {}) => {
  const n = z.number().int();
  const low = bounds.min === undefined ? n.positive() : n.min(bounds.min);
  return z
    .string()
    .trim()
    .regex(/^-?\d+$/, {
      error: (issue) =>
        issue.input === ''
          ? 'empty; give an integer, or leave it unset for the default'
          : `expected an integer, got "${String(issue.input)}"`,
    })
    .transform(Number)
    .pipe(bounds.max === undefined ? low : low.max(bounds.max));
};
const int = (fallback: number, bounds: { min?: number; max?: number } = {}) => integer(bounds).default(fallback);
/** A duration in milliseconds (the variable's name ends in `_MS`; the docs show it in h/min/s). */
const ms = int;
const port = (fallback: number, min = 0) => int(fallback, { min, max: 65535 });
/** Comma-separated list, blanks dropped. */
const list = (raw: string): string[] =>
  raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
const pem = (raw: string): string => raw.replaceAll('\\n', '\n');

const MIB = 1024 * 1024;
const MINUTE = 60 * 1000;
const HOUR = 60 * MINUTE;

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

/** The environment, variable by variable (strings in, typed values out). */
export const EnvSchema = z.object({
  NODE_ENV: z
    .enum(['development', 'test', 'production'])
    .default('development')
    .describe('`production` turns on the startup guard: nothing embedded, nothing development-only.'),
  HOST: z.string().default('127.0.0.1').describe('Interface to listen on.'),
  PORT: port(8080).describe('TCP port to listen on; 0 picks a free one.'),
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
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info')
    .describe('pino log level; logs go to stdout with a request id, as LOG_FORMAT says.'),
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
  DATABASE_POOL_MAX: int(10).describe('Connections of the main PostgreSQL pool (per instance).'),
  DATABASE_CONNECT_TIMEOUT_MS: ms(3_000).describe(
    'Longest wait for a database connection (opening one, or a free one in the pool) before a request is answered 503 with Retry-After.',
  ),
  DATABASE_STATEMENT_TIMEOUT_MS: ms(5_000).describe(
    "PostgreSQL's statement_timeout for the server's connections; a statement that gets no answer within this plus 1 s (a hung or unreachable database) is abandoned by the client. With DATABASE_CONNECT_TIMEOUT_MS it bounds how long a request can wait on the database (default: under 10 s).",
  ),
  DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: ms(30_000).describe(
    "PostgreSQL's idle_in_transaction_session_timeout for the server's connections: a transaction left open by a stalled process is ended and its locks released.",
  ),
  MIGRATION_LOCK_TIMEOUT_MS: ms(3_000).describe(
    "PostgreSQL's lock_timeout for each migration: a migration that cannot take its table lock within this (a long read holds it) fails, is rolled back and retried after a pause, instead of queueing every other query on that table behind it.",
  ),
  MIGRATION_RETRY_MS: ms(600_000).describe(
    'How long a starting replica keeps retrying migrations that time out on a lock, and waits for another replica holding the migration lock, before it gives up and exits.',
  ),
  EMBEDDED_PG_PORT: port(54329, 1).describe(
    'Port of the embedded PostgreSQL started when DATABASE_URL is unset (development).',
  ),

  S3_BUCKET: z.string().optional().describe('Bucket for X-ray objects. Unset: disk storage in DATA_DIR/objects.'),
  S3_ENDPOINT: z.url().optional().describe('S3-compatible endpoint; unset means AWS.'),
  S3_REGION: z
    .string()
    .default('us-east-1')
    .describe('Region of the bucket (S3-compatible stores usually accept any).'),
  S3_ACCESS_KEY_ID: z
    .string()
    .optional()
    .describe('Access key of the S3 credentials; unset: the AWS SDK default chain (instance role, env).'),
  S3_SECRET_ACCESS_KEY: z.string().optional().describe('Secret key of the S3 credentials (with S3_ACCESS_KEY_ID).'),
  S3_FORCE_PATH_STYLE: bool(false).describe(
    'Path-style bucket URLs (endpoint/bucket/key): MinIO, Swift and most S3-compatible stores.',
  ),
  S3_CHECKSUMS_WHEN_REQUIRED: bool(false).describe(
    'Send/validate checksums only when required (Swift s3api, several S3-compatible stores).',
  ),
  S3_CREATE_BUCKET: bool(false).describe('Create the bucket at startup when missing (development, tests).'),
  S3_PART_SIZE: int(8 * MIB, { min: 5 * MIB }).describe('Multipart part size; S3 minimum is 5 MiB.'),
  S3_QUEUE_SIZE: int(4, { min: 1, max: 16 }).describe('Parts uploaded concurrently.'),
  S3_DOWNLOAD_CONNECTIONS: int(50, { min: 1, max: 1000 }).describe(
    "Connections to S3 of this replica for answers streamed at a client's pace (downloads, WADO-RS retrieve, frames): a pool of their own, apart from uploads'. A read left unread lets go of its connection after 1 s while others wait for one, 10 s in any case (metrics xray_s3_download_*).",
  ),

  TUS_EXPIRY_MS: ms(24 * 60 * 60 * 1000).describe(
    'An unfinished tus upload is removed this long after it was created.',
  ),
  TUS_CLEANUP_INTERVAL_MS: ms(10 * 60 * 1000).describe(
    'How often each instance looks for expired unfinished uploads (they take turns via an advisory lock).',
  ),
  TUS_S3_USE_TAGS: bool(false).describe('Tag finished tus objects (S3 object tagging; Swift s3api has none).'),
  TUS_LOCK_POOL_MAX: int(50).describe('Connections for upload locks: the most uploads one instance writes at once.'),
  TUS_LOCK_TIMEOUT_MS: ms(30_000, { min: 1_000, max: 10 * MINUTE }).describe(
    "How long a tus request (HEAD, PATCH, DELETE) waits for its upload's lock, which one request at a time holds, across instances. A request still writing the upload is asked to let go at once, so what is waited for is the upload's X-ray being stored (its last bytes are in) or a holder that does not answer. Past it, a HEAD is answered 423 `upload_busy`, a PATCH or DELETE 409 `conflict`, both with Retry-After (5 s), which tus-js-client retries. Keep it above the time the largest X-ray takes to store, and under the timeouts of proxies in front.",
  ),
  UPLOAD_IDLE_TIMEOUT_MS: ms(30_000).describe(
    'An upload request that sends no byte for this long is ended and its lock released.',
  ),
  UPLOAD_MAX_PATCHES_PER_USER: int(4).describe(
    'Upload requests one user may have writing at once on one instance (more: 429).',
  ),
  UPLOAD_MAX_OPEN_PER_USER: int(32).describe(
    'Unfinished uploads one user may hold (more: 429 until one finishes, is cancelled or expires).',
  ),
  UPLOAD_MAX_RESERVED_BYTES_PER_USER: int(8 * 1024 * MIB).describe(
    "Bytes one user's unfinished uploads may announce in all (more: 413).",
  ),
  DOWNLOAD_MAX_STREAMS_PER_USER: int(8, { max: 1_000 }).describe(
    "Answers streaming stored X-ray bytes (GET /xrays/{id}/download, DICOMweb WADO-RS retrieve and Retrieve Frames) one user (the token's `sub`) may have at once on one instance. Each holds an object-store read (on S3 one of the 50 sockets kept for such reads: uploads and the server's own reads have their own) for as long as its client takes to read it, so one user opening many and reading none would make everyone else's downloads wait. Beyond it, up to sixteen times as many wait their turn, first come first served, holding nothing (a viewer loading a series' frames at once is served, a few at a time); past that, or after DOWNLOAD_STREAM_WAIT_MS in line, 429 `too_many_downloads` with Retry-After. HEAD, 304 and rendered images take no slot.",
  ),
  DOWNLOAD_STREAM_WAIT_MS: ms(30_000, { min: 1_000, max: 10 * MINUTE }).describe(
    "How long a download beyond DOWNLOAD_MAX_STREAMS_PER_USER waits for one of its user's answers to finish before it is refused (429 `too_many_downloads`). Keep it under the timeouts of proxies and viewers in front; a client that disconnects while waiting leaves the line at once.",
  ),

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
  OIDC_CLOCK_TOLERANCE_S: int(30, { min: 0, max: 300 }).describe(
    'Clock skew allowed on exp, nbf and iat (a token issued further in the future is refused), in seconds.',
  ),
  OIDC_JWKS_COOLDOWN_S: int(30, { min: 0 }).describe(
    'A token with an unknown key id refetches the JWKS at most once per this many seconds.',
  ),
  OIDC_ACCEPT_JWT_TYP: bool(false).describe(
    "Also accept access tokens whose header `typ` is `JWT`, for issuers that cannot mark them `at+jwt` (RFC 9068). Off: only `at+jwt`, so no other JWT of the issuer (an ID token) passes for an access token. Keycloak 26.2+ issues `at+jwt` per client (the stack's realm sets it).",
  ),
  AUTH_FAILURE_LIMIT: int(20).describe(
    'Failed authentications (401) one client address (IPv6: its /64) may have per window; past it, its requests that do not authenticate get 429 with Retry-After, while a token that verifies is still served. Counted per instance.',
  ),
  AUTH_FAILURE_WINDOW_MS: ms(60_000).describe(
    "Window of AUTH_FAILURE_LIMIT, from a client's first failure. The first failure is audited as it happens, the rest of the window as one access.denied event with their count when it closes.",
  ),
  AUTH_DISABLED: bool(false).describe(
    'Development/test only: every request acts as one local user with every role. Refused in production.',
  ),
  DPOP_BEARER_ALLOWED: bool(true).describe(
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
  DPOP_IAT_WINDOW_S: int(60, { min: 5, max: 600 }).describe(
    "How far a DPoP proof's `iat` may be from the server's clock, in seconds (either way). Used proof ids are remembered in PostgreSQL for this long, shared by every instance.",
  ),
  DEV_OIDC_PORT: port(8081).describe(
    'Port of the development OIDC issuer that `npm start` runs when OIDC_ISSUER is unset.',
  ),
  TLS_TERMINATED_BY_PROXY: bool(false).describe(
    'A proxy in front terminates TLS. Required in production when HOST is not a loopback address. Also turns on HSTS (`Strict-Transport-Security`).',
  ),
  CORS_ALLOWED_ORIGINS: z
    .string()
    .default('')
    .describe(
      'Comma-separated origins (`https://host[:port]`) other than our own whose browser pages may call the API and /uploads. Empty: same-origin only (the edge app served here, and PUBLIC_URL). Never `*` or `null`.',
    ),
  METRICS_PORT: z
    .union([z.literal('off'), integer({ min: 0, max: 65535 })], {
      error: (issue) => `expected a port (0 to 65535) or \`off\`, got "${String(issue.input)}"`,
    })
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
  AUDIT_CHECKPOINT_EVERY: int(1000).describe(
    'A signed checkpoint of the audit chain is written once this many events are not yet covered by one.',
  ),
  AUDIT_CHECKPOINT_INTERVAL_MS: ms(5 * 60 * 1000).describe(
    'No audit event stays without a checkpoint much longer than this (each instance looks every second, or this often when shorter).',
  ),
  AUDIT_CHECKPOINT_BUCKET: z
    .string()
    .optional()
    .describe(
      'S3 bucket for audit checkpoints (prefix `audit-checkpoints/`). Unset: S3_BUCKET (or DATA_DIR/objects on disk). A bucket of their own can have Object Lock and a write-only policy.',
    ),
  AUDIT_CHECKPOINT_LOCK_DAYS: int(0, { min: 0, max: 36500 }).describe(
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
  EDGE_OFFLINE_GRACE_MS: ms(12 * 60 * 60 * 1000, { min: 60_000, max: 7 * 24 * 60 * 60 * 1000 }).describe(
    'Offline grace period of the edge app (sent in /edge-config): after this long without reaching the server, the app asks for a sign-in before it shows any patient details again (capturing never waits). 1 min to 7 days; default 12 h.',
  ),
  EDGE_UPLOAD_STALL_MS: ms(20_000, { min: 2_000, max: 10 * 60 * 1000 }).describe(
    'Stall timeout of the edge app (sent in /edge-config): an upload request that makes no progress for this long is aborted and resumed from the server offset with backoff. 2 s to 10 min; default 20 s.',
  ),

  PATIENT_SERVICE_URL: z
    .url()
    .optional()
    .describe(
      'Base URL of the Patient Service (GET /patients/{id}, GET /consultations/{id}). Unset: links are not checked (status unchecked); required in production; `npm start` runs a development one.',
    ),
  PATIENT_SERVICE_TIMEOUT_MS: ms(3000).describe('Timeout of one Patient Service request (background checks).'),
  PATIENT_SERVICE_RETRIES: int(2, { min: 0, max: 10 }).describe(
    'Retries (exponential backoff with jitter) of a background Patient Service request.',
  ),
  PATIENT_CACHE_TTL_MS: ms(30_000, { min: 0 }).describe(
    'How long a found patient or consultation is cached (not-found answers are never cached).',
  ),
  LINK_CHECK_TIMEOUT_MS: ms(1500).describe(
    'Budget of the link check an upload or a correction waits for (one try); past it the X-ray is stored with link pending.',
  ),
  LINK_RECHECK_INTERVAL_MS: ms(15_000).describe(
    'How often each instance looks for pending links; also the first re-check delay (then doubling).',
  ),
  LINK_RECHECK_MAX_MS: ms(10 * 60 * 1000).describe('Longest wait between two checks of one pending link.'),
  PATIENT_ID_ISSUER: z
    .string()
    .trim()
    .min(1, 'empty; give the assigning authority of your patient ids, or leave it unset')
    .max(64, 'must be at most 64 characters (a DICOM LO value)')
    .refine((v) => !/[\\\p{Cc}]/u.test(v), 'must not contain a backslash or control characters (a DICOM LO value)')
    .optional()
    .describe(
      "The assigning authority that issues this hospital's patient ids (the patientId of every X-ray, the Patient Service's ids), as a DICOM file's IssuerOfPatientID (0010,0021) names it, e.g. `HOSPITAL-A`. Set: a DICOM whose IssuerOfPatientID names another authority (case and surrounding blanks aside) is another hospital's patient even when its PatientID reads the same, and is treated as a file naming another PatientID: identity `mismatch` on patientId (hint `other_issuer`), link `invalid` (`file_patient_mismatch`). A file without IssuerOfPatientID is compared by its PatientID alone. Unset: issuers are not compared.",
    ),

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
  WEBHOOK_TIMEOUT_MS: ms(10_000).describe('Timeout of one webhook POST.'),
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
  AMQP_CONFIRM_TIMEOUT_MS: ms(10_000).describe("How long a publish waits for the broker's confirm."),

  OUTBOX_POLL_INTERVAL_MS: ms(1000).describe("How often each instance's relay looks for due events."),
  OUTBOX_BATCH_SIZE: int(20, { min: 1, max: 500 }).describe(
    'Deliveries one relay claims per turn (and delivers concurrently).',
  ),
  OUTBOX_MAX_ATTEMPTS: int(12, { min: 1 }).describe(
    'Attempts per event and sink before it is parked as dead (GET /admin/outbox?state=dead).',
  ),
  OUTBOX_BACKOFF_BASE_MS: ms(1000).describe('Delay after the first failed attempt; doubles each time, with jitter.'),
  OUTBOX_BACKOFF_MAX_MS: ms(10 * 60 * 1000).describe('Longest wait between two delivery attempts of one event.'),
  OUTBOX_PROBE_INTERVAL_MS: ms(5000).describe(
    'While a sink is unreachable, one waiting delivery to it is tried at least this often (its own backoff aside), so the relay notices the sink is back; the moment a delivery to it succeeds, every delivery waiting for it is due at once and its backoff starts over.',
  ),
  OUTBOX_RETENTION_DAYS: z.coerce
    .number()
    .positive()
    .default(7)
    .describe(
      'Delivered events are removed from the outbox this long after they were created (pending and dead ones stay until handled).',
    ),
  OUTBOX_LEASE_MS: ms(60_000).describe(
    'A claimed delivery belongs to its relay this long; must exceed WEBHOOK_TIMEOUT_MS and AMQP_CONFIRM_TIMEOUT_MS.',
  ),

  DEV_PATIENT_PORT: port(8082).describe(
    'Port of the development Patient Service `npm start` runs when PATIENT_SERVICE_URL is unset.',
  ),
  DEV_DOCTOR_PORT: port(8083).describe(
    'Port of the development Doctor Service `npm start` runs when DOCTOR_SERVICE_URL is unset.',
  ),

  MAX_UPLOAD_BYTES: int(1024 * MIB, { max: 4 * 1024 * MIB }).describe(
    'Largest X-ray accepted, in bytes (at most 4 GiB: a stored upload is one S3 server-side copy).',
  ),
  RENDER_CONCURRENCY: int(2, { min: 1, max: 64 }).describe(
    'Renders (GET /xrays/{id}/preview, DICOMweb rendered and thumbnail) decoding at once, per instance: each holds a whole X-ray and its decoded pixels in memory. A cached render takes no slot.',
  ),
  RENDER_QUEUE_LIMIT: int(16, { min: 0, max: 10_000 }).describe(
    'Renders waiting for a slot, per instance; one more is answered 503 `render_busy` with Retry-After.',
  ),
  RENDER_MAX_INPUT_BYTES: int(256 * MIB, { max: 4 * 1024 * MIB }).describe(
    'Largest X-ray rendered, in bytes (it is read into memory whole to decode); a larger one answers 422 `not_renderable`.',
  ),
  RENDER_MAX_PIXELS: int(64_000_000, { max: 1_000_000_000 }).describe(
    'Most pixels (Rows × Columns) of an image rendered; checked before decoding, so a small file declaring a huge image is refused (422 `not_renderable`).',
  ),
  DICOM_INDEX_AT_START: bool(true).describe(
    'Once it listens, the server indexes for DICOMweb (QIDO-RS, WADO-RS) the DICOM X-rays stored before the index existed, and reads again those indexed from a header cut at 64 KiB, in the background, as `xray-admin dicom-index` does (one instance of a cluster at a time; reads only headers, one X-ray at a time; stops at shutdown and goes on at the next start). Nothing is done or logged when there is nothing to index. `false`: not at start; run `xray-admin dicom-index` when it suits (a very large archive at a quiet hour).',
  ),
  CAPTURE_TIME_MAX_SKEW_MS: ms(5 * 60 * 1000, { min: 0, max: 24 * 60 * 60 * 1000 }).describe(
    "How far ahead of the server's clock an X-ray's `capturedAt` may be (a device clock running fast), on every upload door; later is refused (400, field `metadata.capturedAt`). At most 24 h.",
  ),
  RESPONSE_STALL_TIMEOUT_MS: ms(60_000, { min: 1_000 }).describe(
    'A response whose client takes nothing for this long is cut off, releasing the object-store read behind it, so unread downloads cannot hold every store connection. "Takes nothing" as the socket sees it: Linux hands it more only once about a third of its send buffer (~1 MiB) is free, so a client reading slower than that per period counts as stalled too (at the default, below ~20 kB/s).',
  ),
  SHUTDOWN_GRACE_MS: ms(10_000, { min: 0 }).describe(
    'On SIGTERM: the longest the whole shutdown takes. Running requests get all but the last 3 s (at most a third) of it, kept-alive connections are closed as their requests finish, and what is left (background work, the last audit checkpoint, closing pools) is cut off at the end, so a hung database cannot hold a stop.',
  ),
});

export type Env = z.infer<typeof EnvSchema>;
type EnvName = keyof Env;
/** The environment as given, before parsing: whether a variable was set at all (a default reads like a value). */
type RawEnv = Readonly<Record<string, string | undefined>>;

/** One refused setting: the variable to change, and why. */
export interface ConfigProblem {
  variable: string;
  message: string;
}

/** A configuration the server refuses to start with: each problem structured, and as readable text. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly problems: readonly ConfigProblem[];

  constructor(message: string, options?: ErrorOptions & { problems?: readonly ConfigProblem[] }) {
    super(message, options);
    this.problems = options?.problems ?? [];
  }

  static of(problems: readonly ConfigProblem[], heading = 'Invalid configuration'): ConfigError {
    const lines = problems.map((p) => `  ${p.variable}: ${p.message}`);
    return new ConfigError(`${heading}:\n${lines.join('\n')}`, { problems });
  }
}

const LOOPBACK_HOSTS = new Set(['localhost', '::1', '[::1]']);
const isLoopbackHost = (host: string): boolean => LOOPBACK_HOSTS.has(host) || /^127(\.\d{1,3}){3}$/.test(host);
const plainHttp = (url: string | undefined): boolean => {
  const u = url === undefined ? null : URL.parse(url);
  return u !== null && u.protocol !== 'https:' && !isLoopbackHost(u.hostname);
};

/** CORS_ALLOWED_ORIGINS entries that are not exact origins (no path, no wildcard, never `null`). */
const notOrigins = (e: Env): string[] =>
  list(e.CORS_ALLOWED_ORIGINS).filter((o) => {
    const u = URL.parse(o);
    return !u || u.origin !== o || (u.protocol !== 'https:' && u.protocol !== 'http:');
  });
const quoted = (values: string[]): string => `"${values.join('", "')}"`;
const badAlgorithms = (raw: string): string[] => list(raw).filter((n) => !isJwtAlgorithm(n));

/** Two connection strings log in as one role (same user name; or, with no user name, the same string). */
function sameDatabaseRole(a: string, b: string): boolean {
  if (a === b) return true;
  const userOf = (url: string) => URL.parse(url)?.username ?? '';
  const [ua, ub] = [userOf(a), userOf(b)];
  return ua !== '' && decodeURIComponent(ua) === decodeURIComponent(ub);
}

/** The S3 settings besides S3_BUCKET: read only when S3_BUCKET selects S3 storage. */
const S3_SETTINGS = Object.keys(EnvSchema.shape).filter((n) => n.startsWith('S3_') && n !== 'S3_BUCKET');
/** Those set (not empty) in the environment, in the schema's order: without S3_BUCKET nothing reads them. */
const s3SettingsSet = (raw: RawEnv): string[] => S3_SETTINGS.filter((n) => !!raw[n]);
/** "A, B are" (or "A is"): settings named in a sentence. */
const namedSettings = (names: readonly string[]): string => `${names.join(', ')} ${names.length === 1 ? 'is' : 'are'}`;

/**
 * What the server (at start) and xray-admin (before a command) say of S3 settings given without
 * S3_BUCKET on disk storage, naming them (never their values); undefined when there are none.
 */
export function ignoredS3Notice(storage: StorageConfig): string | undefined {
  if (storage.kind !== 'fs' || storage.ignoredS3Settings.length === 0) return undefined;
  return `S3_BUCKET is not set, so ${namedSettings(storage.ignoredS3Settings)} ignored`;
}

/**
 * A rule between settings (or on one setting's value) that the types alone cannot state. `when`
 * says in words what is refused (the configuration reference prints it); `{value}` in the message
 * is filled in with what was found. `raw` is the environment as given, for what a default hides.
 */
export interface ConfigRule {
  variable: EnvName;
  /** Checked only with NODE_ENV=production. */
  production?: true;
  /** The variable must be set (production): the reference lists it as required. */
  required?: true;
  when: string;
  message: string;
  refuses: (e: Env, raw: RawEnv) => boolean;
  value?: (e: Env, raw: RawEnv) => string;
}

/** The rules, each reported with the others: first those that hold everywhere, then production's. */
export const CONFIG_RULES: readonly ConfigRule[] = [
  {
    variable: 'OIDC_ALGORITHMS',
    when: 'it names a symmetric or unknown algorithm, or none',
    message: `{value}; use asymmetric algorithms only (${ASYMMETRIC_JWT_ALGORITHMS.join(', ')})`,
    refuses: (e) => badAlgorithms(e.OIDC_ALGORITHMS).length > 0 || list(e.OIDC_ALGORITHMS).length === 0,
    value: (e) => {
      const bad = badAlgorithms(e.OIDC_ALGORITHMS);
      return bad.length ? `${quoted(bad)} not accepted` : 'empty';
    },
  },
  {
    variable: 'CORS_ALLOWED_ORIGINS',
    when: 'an entry is not an exact http(s) origin (a path, `*`, `null`)',
    message: '{value} not an origin; list origins such as https://edge.example.org (no path, no *)',
    refuses: (e) => notOrigins(e).length > 0,
    value: (e) => quoted(notOrigins(e)),
  },
  {
    // An unsigned webhook cannot be told from a forged one: no webhook without its key.
    variable: 'WEBHOOK_SECRET',
    when: '`DOCTOR_SERVICE_URL` is set and it is not',
    message: 'required when DOCTOR_SERVICE_URL is set (webhooks are signed)',
    refuses: (e) => !!e.DOCTOR_SERVICE_URL && !e.WEBHOOK_SECRET,
  },
  {
    // A lease shorter than an attempt would let a second relay deliver the same event meanwhile.
    variable: 'OUTBOX_LEASE_MS',
    when: 'it is less than twice WEBHOOK_TIMEOUT_MS or AMQP_CONFIRM_TIMEOUT_MS',
    message: 'must be at least twice the longest delivery timeout ({value} ms)',
    refuses: (e) => e.OUTBOX_LEASE_MS < 2 * Math.max(e.WEBHOOK_TIMEOUT_MS, e.AMQP_CONFIRM_TIMEOUT_MS),
    value: (e) => String(Math.max(e.WEBHOOK_TIMEOUT_MS, e.AMQP_CONFIRM_TIMEOUT_MS)),
  },
  {
    variable: 'OUTBOX_BACKOFF_MAX_MS',
    when: 'it is below OUTBOX_BACKOFF_BASE_MS',
    message: 'must not be below OUTBOX_BACKOFF_BASE_MS',
    refuses: (e) => e.OUTBOX_BACKOFF_MAX_MS < e.OUTBOX_BACKOFF_BASE_MS,
  },
  {
    // Log collectors (and the tests) read JSON lines: text only where a person reads along.
    variable: 'LOG_FORMAT',
    when: 'it is `pretty` and NODE_ENV is not `development`',
    message: 'pretty is for development only (NODE_ENV=development)',
    refuses: (e) => e.LOG_FORMAT === 'pretty' && e.NODE_ENV !== 'development',
  },
  {
    variable: 'AUDIT_CHECKPOINT_BUCKET',
    when: 'it is set without S3_BUCKET',
    message: 'needs S3 storage (S3_BUCKET); on disk checkpoints go to DATA_DIR',
    refuses: (e) => !!e.AUDIT_CHECKPOINT_BUCKET && !e.S3_BUCKET,
  },
  {
    variable: 'AUDIT_CHECKPOINT_LOCK_DAYS',
    when: 'it is above 0 without S3_BUCKET',
    message: 'Object Lock needs S3 storage (S3_BUCKET)',
    refuses: (e) => e.AUDIT_CHECKPOINT_LOCK_DAYS > 0 && !e.S3_BUCKET && !e.AUDIT_CHECKPOINT_BUCKET,
  },
  {
    variable: 'UPLOAD_PRIVATE_KEY',
    when: '`KEK` is set and it is not (the two go together)',
    message: 'KEK and UPLOAD_PRIVATE_KEY go together: set both or neither',
    refuses: (e) => !!e.KEK && !e.UPLOAD_PRIVATE_KEY && e.NODE_ENV !== 'production',
  },
  {
    variable: 'KEK',
    when: '`UPLOAD_PRIVATE_KEY` is set and it is not (the two go together)',
    message: 'KEK and UPLOAD_PRIVATE_KEY go together: set both or neither',
    refuses: (e) => !e.KEK && !!e.UPLOAD_PRIVATE_KEY && e.NODE_ENV !== 'production',
  },
  {
    variable: 'KEK_CURRENT_ID',
    when: 'it is not an id in KEK',
    message: '{value} is not an id in KEK',
    refuses: (e) => !!e.KEK && !!e.KEK_CURRENT_ID && !kekIds(e.KEK).includes(e.KEK_CURRENT_ID),
    value: (e) => e.KEK_CURRENT_ID ?? '',
  },

  // Production: nothing embedded, nothing development-only, no plain HTTP beyond this machine.
  {
    variable: 'CORS_ALLOWED_ORIGINS',
    production: true,
    when: 'it lists a plain http origin (not loopback)',
    message: '{value} is plain http; only https origins (or loopback) may read patient data in production',
    refuses: (e) => notOrigins(e).length === 0 && list(e.CORS_ALLOWED_ORIGINS).some(plainHttp),
    value: (e) => quoted(list(e.CORS_ALLOWED_ORIGINS).filter(plainHttp)),
  },
  {
    variable: 'AUTH_DISABLED',
    production: true,
    when: '`AUTH_DISABLED=true`',
    message: 'must not be true in production',
    refuses: (e) => e.AUTH_DISABLED,
  },
  {
    variable: 'OIDC_ISSUER',
    production: true,
    required: true,
    when: 'it is unset',
    message: 'required in production (the development issuer never runs there)',
    refuses: (e) => !e.OIDC_ISSUER,
  },
  {
    variable: 'OIDC_ISSUER',
    production: true,
    when: 'it is a plain http URL (not loopback)',
    message: 'must be an https URL in production (keys are fetched from it)',
    refuses: (e) => plainHttp(e.OIDC_ISSUER),
  },
  {
    variable: 'TLS_TERMINATED_BY_PROXY',
    production: true,
    when: '`HOST` is not a loopback address (e.g. `0.0.0.0`) and it is not true',
    message:
      'HOST={value} serves plain HTTP beyond this machine; put a TLS-terminating proxy in front and set TLS_TERMINATED_BY_PROXY=true (or bind HOST to loopback)',
    refuses: (e) => !isLoopbackHost(e.HOST) && !e.TLS_TERMINATED_BY_PROXY,
    value: (e) => e.HOST,
  },
  {
    variable: 'DATABASE_URL',
    production: true,
    required: true,
    when: 'it is unset',
    message: 'required in production (no embedded PostgreSQL there)',
    refuses: (e) => !e.DATABASE_URL,
  },
  {
    variable: 'DATABASE_OWNER_URL',
    production: true,
    required: true,
    when: 'it is unset',
    message:
      "required in production: the schema's owner runs migrations, so that DATABASE_URL's role cannot alter, empty or unprotect the audit trail",
    refuses: (e) => !e.DATABASE_OWNER_URL,
  },
  {
    variable: 'DATABASE_OWNER_URL',
    production: true,
    when: "it logs in as `DATABASE_URL`'s role",
    message: "logs in as the same role as DATABASE_URL; the application's role must not own the schema",
    refuses: (e) =>
      !!e.DATABASE_URL && !!e.DATABASE_OWNER_URL && sameDatabaseRole(e.DATABASE_URL, e.DATABASE_OWNER_URL),
  },
  {
    variable: 'S3_BUCKET',
    production: true,
    required: true,
    when: 'it is unset',
    message: 'required in production (no local-disk object storage there)',
    refuses: (e, raw) => !e.S3_BUCKET && s3SettingsSet(raw).length === 0,
  },
  {
    // Endpoint and credentials given, the bucket forgotten: say so rather than "required" alone.
    variable: 'S3_BUCKET',
    production: true,
    when: 'it is unset while other `S3_*` settings are set (without it they are ignored)',
    message:
      'missing while {value} set: without S3_BUCKET those are ignored and X-rays would be stored on local disk, which production refuses',
    refuses: (e, raw) => !e.S3_BUCKET && s3SettingsSet(raw).length > 0,
    value: (_e, raw) => namedSettings(s3SettingsSet(raw)),
  },
  {
    variable: 'KEK',
    production: true,
    required: true,
    when: 'it is unset',
    message: 'required in production (development keys are generated only outside it)',
    refuses: (e) => !e.KEK,
  },
  {
    variable: 'KEK',
    production: true,
    when: 'it holds a development key',
    message: `holds a development key (id starting with "${DEV_KEY_PREFIX}"); generate real keys`,
    refuses: (e) => !!e.KEK && kekIds(e.KEK).some((id) => id.startsWith(DEV_KEY_PREFIX)),
  },
  {
    variable: 'UPLOAD_PRIVATE_KEY',
    production: true,
    required: true,
    when: 'it is unset',
    message: 'required in production',
    refuses: (e) => !e.UPLOAD_PRIVATE_KEY,
  },
  {
    variable: 'AUDIT_ANCHOR_KEY',
    production: true,
    required: true,
    when: 'it is unset',
    message:
      'required in production (the key that signs audit checkpoints; development keys are generated only outside it)',
    refuses: (e) => !e.AUDIT_ANCHOR_KEY,
  },
  {
    variable: 'PATIENT_SERVICE_URL',
    production: true,
    required: true,
    when: 'it is unset',
    message: 'required in production (X-rays must be linked to real patients; no development service there)',
    refuses: (e) => !e.PATIENT_SERVICE_URL,
  },
  {
    // Events keep their links for good (outbox, consumers' worklists): without PUBLIC_URL they would
    // name this instance's own listening address (plain http, behind the proxy, one per instance),
    // which a consumer would follow with its bearer token.
    variable: 'PUBLIC_URL',
    production: true,
    when: 'events are delivered (`DOCTOR_SERVICE_URL` or `AMQP_URL` is set) and it is not',
    message:
      "required in production when events are delivered (DOCTOR_SERVICE_URL, AMQP_URL): their links are built on it; set the API's public https URL, path prefix included",
    refuses: (e) => (!!e.DOCTOR_SERVICE_URL || !!e.AMQP_URL) && !e.PUBLIC_URL,
  },
  {
    variable: 'PUBLIC_URL',
    production: true,
    when: 'it is a plain http URL (not loopback)',
    message:
      'must be an https URL in production (clients follow the event links and tus Location URLs built on it with their tokens; its origin may read the API from a browser)',
    refuses: (e) => plainHttp(e.PUBLIC_URL),
  },
];

function kekIds(kek: string): string[] {
  return kek.split(',').map((pair) => pair.split(':')[0] ?? '');
}

function keySettings(e: Env): KeySettings | undefined {
  if (!e.KEK || !e.UPLOAD_PRIVATE_KEY) return undefined;
  const keks = e.KEK.split(',').map((pair) => {
    const [id = '', key = ''] = pair.split(':');
    return { id, key };
  });
  return {
    keks,
    currentKekId: e.KEK_CURRENT_ID ?? keks[0]?.id ?? '',
    uploadPrivateKeyPem: pem(e.UPLOAD_PRIVATE_KEY),
    ...(e.UPLOAD_PREVIOUS_PRIVATE_KEY ? { uploadPreviousPrivateKeyPem: pem(e.UPLOAD_PREVIOUS_PRIVATE_KEY) } : {}),
  };
}

/**
 * The environment checked against every rule, and shaped into the sections the server reads;
 * `raw` is that environment as given (the rules and the transform ask it what a default hides).
 */
const configSchema = (raw: RawEnv) =>
  EnvSchema.superRefine((e, ctx) => {
    for (const rule of CONFIG_RULES) {
      if ((rule.production && e.NODE_ENV !== 'production') || !rule.refuses(e, raw)) continue;
      const message = rule.value ? rule.message.replace('{value}', rule.value(e, raw)) : rule.message;
      ctx.addIssue({ code: 'custom', path: [rule.variable], message, params: { rule: true } });
    }
  }).transform((e) => shaped(e, raw));

/** The checked environment in the sections the server reads. */
function shaped(e: Env, raw: RawEnv) {
  const dataDir = path.resolve(e.DATA_DIR);
  const logFormat: 'json' | 'pretty' =
    e.LOG_FORMAT !== 'auto' ? e.LOG_FORMAT : e.NODE_ENV === 'development' && process.stdout.isTTY ? 'pretty' : 'json';
  return {
    env: e.NODE_ENV,
    http: {
      host: e.HOST,
      port: e.PORT,
      publicUrl: e.PUBLIC_URL,
      trustProxy: list(e.TRUST_PROXY),
      shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
      /** A response whose client reads nothing for this long is cut off (http/stalled-responses.ts). */
      responseStallTimeoutMs: e.RESPONSE_STALL_TIMEOUT_MS,
      /** A proxy in front terminates TLS; we ourselves serve plain HTTP. */
      tlsTerminatedByProxy: e.TLS_TERMINATED_BY_PROXY,
      /** Origins whose pages may read our answers (CORS), PUBLIC_URL's first; empty: same-origin only. */
      corsAllowedOrigins: [
        ...new Set([...(e.PUBLIC_URL ? [new URL(e.PUBLIC_URL).origin] : []), ...list(e.CORS_ALLOWED_ORIGINS)]),
      ],
    },
    /** The Prometheus listener, apart from the API; undefined: off. */
    metrics: e.METRICS_PORT === 'off' ? undefined : { host: e.METRICS_HOST, port: e.METRICS_PORT },
    dataDir,
    logLevel: e.LOG_LEVEL,
    /** `auto` already decided: pretty only in development on a terminal, or when asked for there. */
    logFormat,
    db: {
      url: e.DATABASE_URL,
      /** The schema's owner (migrations, GRANTs); undefined: `url` owns it (outside production only). */
      ownerUrl: e.DATABASE_OWNER_URL,
      poolMax: e.DATABASE_POOL_MAX,
      embeddedPort: e.EMBEDDED_PG_PORT,
      connectTimeoutMs: e.DATABASE_CONNECT_TIMEOUT_MS,
      statementTimeoutMs: e.DATABASE_STATEMENT_TIMEOUT_MS,
      idleInTransactionTimeoutMs: e.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS,
      migrationLockTimeoutMs: e.MIGRATION_LOCK_TIMEOUT_MS,
      migrationRetryMs: e.MIGRATION_RETRY_MS,
    },
    storage: e.S3_BUCKET
      ? {
          kind: 's3' as const,
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
          downloadConnections: e.S3_DOWNLOAD_CONNECTIONS,
        }
      : {
          kind: 'fs' as const,
          dir: path.join(dataDir, 'objects'),
          /** S3 settings given without S3_BUCKET, so unread (the server warns of them at start). */
          ignoredS3Settings: s3SettingsSet(raw),
        },
    audit: {
      /** PEM of the Ed25519 checkpoint signing key; undefined: the development key in DATA_DIR/keys. */
      anchorKeyPem: e.AUDIT_ANCHOR_KEY === undefined ? undefined : pem(e.AUDIT_ANCHOR_KEY),
      checkpoints: {
        every: e.AUDIT_CHECKPOINT_EVERY,
        intervalMs: e.AUDIT_CHECKPOINT_INTERVAL_MS,
        /** S3 only: the bucket checkpoints go to (default: the X-ray bucket). */
        bucket: e.AUDIT_CHECKPOINT_BUCKET,
        /** S3 Object Lock given to each checkpoint; undefined: none. */
        objectLock:
          e.AUDIT_CHECKPOINT_LOCK_DAYS > 0
            ? {
                mode: e.AUDIT_CHECKPOINT_LOCK_MODE === 'compliance' ? ('COMPLIANCE' as const) : ('GOVERNANCE' as const),
                days: e.AUDIT_CHECKPOINT_LOCK_DAYS,
              }
            : undefined,
      },
    },
    /** Each user's answers streaming stored bytes at once, and the line beyond (http/download-slots.ts). */
    downloads: {
      perUser: e.DOWNLOAD_MAX_STREAMS_PER_USER,
      queuePerUser: 16 * e.DOWNLOAD_MAX_STREAMS_PER_USER,
      maxWaitMs: e.DOWNLOAD_STREAM_WAIT_MS,
    },
    limits: {
      maxUploadBytes: e.MAX_UPLOAD_BYTES,
      /** A capturedAt further ahead of our clock than this is refused. */
      captureTimeMaxSkewMs: e.CAPTURE_TIME_MAX_SKEW_MS,
    },
    /** Previews and DICOMweb rendered images (rendering/render.service.ts). */
    rendering: {
      concurrency: e.RENDER_CONCURRENCY,
      queueLimit: e.RENDER_QUEUE_LIMIT,
      maxInputBytes: e.RENDER_MAX_INPUT_BYTES,
      maxPixels: e.RENDER_MAX_PIXELS,
    },
    /** A built edge web app served at /, or undefined. */
    edgeAppDir: e.EDGE_APP_DIR ? path.resolve(e.EDGE_APP_DIR) : undefined,
    /** Test suites: the file the OpenAPI response check reports to (http/openapi.response-check.ts). */
    openapiResponseCheck: e.OPENAPI_RESPONSE_CHECK ? path.resolve(e.OPENAPI_RESPONSE_CHECK) : undefined,
    /** Index DICOM X-rays stored before the DICOMweb index once listening (dicomweb/dicom-index.at-start.ts). */
    dicomIndexAtStart: e.DICOM_INDEX_AT_START,
    /** The edge app's offline grace period and upload stall timeout (ms), published in /edge-config. */
    edgeOfflineGraceMs: e.EDGE_OFFLINE_GRACE_MS,
    edgeUploadStallMs: e.EDGE_UPLOAD_STALL_MS,
    tus: {
      expiryMs: e.TUS_EXPIRY_MS,
      cleanupIntervalMs: e.TUS_CLEANUP_INTERVAL_MS,
      s3UseTags: e.TUS_S3_USE_TAGS,
      lockPoolMax: e.TUS_LOCK_POOL_MAX,
      /** How long a request waits for its upload's lock before it is answered busy. */
      lockTimeoutMs: e.TUS_LOCK_TIMEOUT_MS,
      /** A silent upload request is ended after this. */
      idleTimeoutMs: e.UPLOAD_IDLE_TIMEOUT_MS,
      /** Per user: writing requests at once (per instance), unfinished uploads, their announced bytes. */
      perUser: {
        maxPatches: e.UPLOAD_MAX_PATCHES_PER_USER,
        maxOpen: e.UPLOAD_MAX_OPEN_PER_USER,
        maxReservedBytes: e.UPLOAD_MAX_RESERVED_BYTES_PER_USER,
      },
    },
    auth: {
      /** Every request acts as one local user (development/test only, explicit). */
      disabled: e.AUTH_DISABLED,
      /** Unset only in development (the dev issuer fills it in at startup) or when disabled. */
      issuer: e.OIDC_ISSUER,
      audience: e.OIDC_AUDIENCE,
      /** OIDC_ROLES_CLAIM split on dots: ['realm_access', 'roles']. */
      rolesClaim: e.OIDC_ROLES_CLAIM.split('.'),
      algorithms: list(e.OIDC_ALGORITHMS).filter(isJwtAlgorithm),
      clockToleranceS: e.OIDC_CLOCK_TOLERANCE_S,
      jwksCooldownS: e.OIDC_JWKS_COOLDOWN_S,
      /** Also accept `typ: JWT` (issuers that cannot issue RFC 9068 `at+jwt`). */
      acceptJwtTyp: e.OIDC_ACCEPT_JWT_TYP,
      /** Failed authentications per client address and window before it gets 429s. */
      failures: { limit: e.AUTH_FAILURE_LIMIT, windowMs: e.AUTH_FAILURE_WINDOW_MS },
      devIssuerPort: e.DEV_OIDC_PORT,
      dpop: {
        /** Plain bearer tokens are accepted from roles not in requiredRoles. */
        bearerAllowed: e.DPOP_BEARER_ALLOWED,
        requiredRoles: list(e.DPOP_REQUIRED_ROLES),
        algorithms: list(e.DPOP_ALGORITHMS).filter(isJwtAlgorithm),
        iatWindowS: e.DPOP_IAT_WINDOW_S,
      },
    },
    /** Unset: development keys from DATA_DIR (refused in production by the rules). */
    keys: keySettings(e),
    integrations: {
      /** Unset url: links are not checked (development with the dev service off, tests). */
      patientService: {
        url: e.PATIENT_SERVICE_URL,
        timeoutMs: e.PATIENT_SERVICE_TIMEOUT_MS,
        retries: e.PATIENT_SERVICE_RETRIES,
        cacheTtlMs: e.PATIENT_CACHE_TTL_MS,
        /** What an upload or a correction waits for the link at most (one try). */
        inlineTimeoutMs: e.LINK_CHECK_TIMEOUT_MS,
        recheckIntervalMs: e.LINK_RECHECK_INTERVAL_MS,
        recheckMaxMs: e.LINK_RECHECK_MAX_MS,
        devPort: e.DEV_PATIENT_PORT,
      },
      /** The assigning authority of our patient ids (a file's IssuerOfPatientID); undefined: not compared. */
      patientIdIssuer: e.PATIENT_ID_ISSUER,
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
      /** How often, at most, an unreachable sink goes untried (one waiting delivery probes it). */
      probeIntervalMs: e.OUTBOX_PROBE_INTERVAL_MS,
      leaseMs: e.OUTBOX_LEASE_MS,
      /** Delivered events are pruned this long after they were created. */
      retentionMs: e.OUTBOX_RETENTION_DAYS * 24 * HOUR,
    },
  };
}

export type Config = ReturnType<typeof shaped>;
export type StorageConfig = Config['storage'];
export type AuditConfig = Config['audit'];
export type AuthConfig = Config['auth'];
export type DpopConfig = AuthConfig['dpop'];
export type IntegrationsConfig = Config['integrations'];
export type OutboxConfig = Config['outbox'];

/** Parses the environment into the typed config; throws a ConfigError naming each bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = configSchema(env).safeParse(env);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => ({ variable: i.path.join('.'), message: i.message }));
  // Type errors stop parsing before the rules run; the rules' refusals name the environment.
  const ruled = parsed.error.issues.every((i) => i.code === 'custom' && i.params?.rule === true);
  const production = ruled && env.NODE_ENV === 'production';
  // What production requires is a matter of presence alone, so it is reported with the type errors
  // too: one round of fixes, not a second list after the first.
  if (!ruled && env.NODE_ENV === 'production')
    for (const rule of CONFIG_RULES)
      if (
        rule.production &&
        rule.required &&
        !env[rule.variable] &&
        !problems.some((p) => p.variable === rule.variable)
      )
        problems.push({ variable: rule.variable, message: rule.message });
  throw ConfigError.of(problems, `Invalid configuration${production ? ' for production' : ''}`);
}
