import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, ListMultipartUploadsCommand, S3Client } from '@aws-sdk/client-s3';
import type { RequestHandler } from 'express';
import { XraySchema, type Xray } from '@xray/shared';
import { makePng } from '@xray/testkit';
import { createApiClient, type ApiClient, type ApiSchema } from '@xray/shared/api';
import pg from 'pg';
import { expect, inject } from 'vitest';
import { loadConfig, type Config } from '../src/config/config.ts';
import { DomainError } from '../src/errors.ts';
import { start, type RunningServer, type StartOptions } from '../src/server.ts';
import { s3ClientConfig } from '../src/storage/s3.store.ts';
import { WITNESS_PREFIX } from '../src/audit/audit.witness.ts';

export type StorageKind = 'fs' | 's3';

/** A fresh database on the test PostgreSQL, so test files never see each other's rows. */
export async function createTestDatabase(): Promise<string> {
  const admin = new pg.Client({ connectionString: inject('pgAdminUrl') });
  await admin.connect();
  const name = `xray_test_${randomUUID().replaceAll('-', '')}`;
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(inject('pgAdminUrl'));
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * A fresh database whose schema belongs to an owner role and whose application has a login of its
 * own, as production requires (DATABASE_OWNER_URL, DATABASE_URL). The database is owned by the
 * owner role, so migrations can create tables in its public schema.
 */
export async function createSeparatedDatabase(): Promise<{ adminUrl: string; ownerUrl: string; appUrl: string }> {
  const adminUrl = await createTestDatabase();
  const name = new URL(adminUrl).pathname.slice(1);
  const suffix = randomUUID().replaceAll('-', '').slice(0, 12);
  const [owner, app] = [`xray_owner_${suffix}`, `xray_app_${suffix}`];
  const [ownerPassword, appPassword] = [randomUUID(), randomUUID()];
  const admin = new pg.Client({ connectionString: inject('pgAdminUrl') });
  await admin.connect();
  try {
    await admin.query(`CREATE ROLE ${owner} LOGIN PASSWORD '${ownerPassword}'`);
    await admin.query(`CREATE ROLE ${app} LOGIN PASSWORD '${appPassword}'`);
    await admin.query(`ALTER DATABASE ${name} OWNER TO ${owner}`);
  } finally {
    await admin.end();
  }
  const login = (user: string, password: string) => {
    const url = new URL(adminUrl);
    url.username = user;
    url.password = password;
    return url.toString();
  };
  return { adminUrl, ownerUrl: login(owner, ownerPassword), appUrl: login(app, appPassword) };
}

/**
 * Runs SQL as the schema's owner (DDL such as test triggers): the server's own pool is the
 * application's role, which may create nothing.
 */
export async function asOwner(server: { config: Config }, sql: string): Promise<void> {
  const owner = new pg.Client({ connectionString: server.config.db.ownerUrl ?? server.config.db.url });
  await owner.connect();
  try {
    await owner.query(sql);
  } finally {
    await owner.end();
  }
}

export interface TestStorage {
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

/** A fresh disk directory or a fresh bucket on the test S3 store. */
export async function createTestStorage(kind: StorageKind): Promise<TestStorage> {
  if (kind === 'fs') {
    const dir = await mkdtemp(path.join(tmpdir(), 'xray-test-data-'));
    return { env: { DATA_DIR: dir }, cleanup: () => rm(dir, { recursive: true, force: true }) };
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'xray-test-data-'));
  const bucket = `xray-test-${randomUUID().slice(0, 13)}`;
  const env = {
    ...inject('s3'),
    DATA_DIR: dir,
    S3_BUCKET: bucket,
    S3_CHECKSUMS_WHEN_REQUIRED: 'true',
    S3_CREATE_BUCKET: 'false',
    S3_PART_SIZE: String(5 * 1024 * 1024),
  };
  await s3Client(env).send(new CreateBucketCommand({ Bucket: bucket }));
  return { env, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export function s3Client(env: Record<string, string>): S3Client {
  const config = loadConfig(env);
  if (config.storage.kind !== 's3') throw new Error('not an S3 env');
  return new S3Client(s3ClientConfig(config.storage));
}

/** Multipart uploads left open in the bucket (must be none after a failed upload). */
export async function openMultipartUploads(env: Record<string, string>): Promise<number> {
  const res = await s3Client(env).send(new ListMultipartUploadsCommand({ Bucket: env.S3_BUCKET }));
  return res.Uploads?.length ?? 0;
}

export interface TestServer extends RunningServer {
  config: Config;
  env: Record<string, string>;
  /** Stops the server and removes its storage. */
  close(): Promise<void>;
}

/**
 * A test server's settings: port 0, real PostgreSQL (a fresh database unless `extraEnv` names
 * one) and the given storage. These tests are about storage and ingest, so they act as one local
 * user with every role; who may do what is proven with real tokens from a real issuer in
 * auth.int.test.ts. Pass OIDC_ISSUER and AUTH_DISABLED: 'false' to test with tokens.
 */
export async function testServerEnv(
  storage: TestStorage,
  extraEnv: Record<string, string> = {},
): Promise<Record<string, string>> {
  return {
    NODE_ENV: 'test',
    PORT: '0',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    AUTH_DISABLED: 'true',
    // Plain bearer tokens for every role: these tests are about other things; device-bound tokens
    // (DPoP, required of paramedics by default) are proven in dpop.int.test.ts.
    DPOP_REQUIRED_ROLES: '',
    // Its own free port: several servers run at once (the default 9464 would collide).
    METRICS_PORT: '0',
    // Every response checked against openapi.json (test/global-setup.ts reports what differs).
    OPENAPI_RESPONSE_CHECK: inject('openapiResponseCheck'),
    // Several servers on one database (instances behind a load balancer): pass the first one's DATABASE_URL.
    DATABASE_URL: extraEnv.DATABASE_URL ?? (await createTestDatabase()),
    ...storage.env,
    ...extraEnv,
  };
}

/** The real server on port 0 with real PostgreSQL and the chosen real storage. */
export async function startTestServer(
  kind: StorageKind,
  extraEnv: Record<string, string> = {},
  opts: StartOptions = {},
): Promise<TestServer> {
  const storage = await createTestStorage(kind);
  const env = await testServerEnv(storage, extraEnv);
  const config = loadConfig(env);
  const server = await start(config, opts);
  // Its DICOM index at start has looked (and found nothing, on a fresh database) before a test
  // removes an index row to stand for an X-ray stored before the index.
  await server.dicomIndexAtStart;
  return {
    ...server,
    config,
    env,
    close: async () => {
      await server.stop();
      await storage.cleanup();
    },
  };
}

/**
 * Stands in for OIDC (`startTestServer(kind, env, { authenticate: headerActor })`):
 * `X-Test-Actor: <sub>; <role>,<role>` acts as that user; no header answers 401 the way the real
 * middleware does (a DomainError to the problem handler). `'nobody; '` is a token with no role.
 */
export const headerActor: RequestHandler = (req, _res, next) => {
  const given = req.get('x-test-actor');
  if (!given) return next(new DomainError('unauthenticated', 'Sign in to use this API.'));
  const [sub = '', roles = ''] = given.split(';');
  req.actor = {
    sub: sub.trim(),
    name: null,
    roles: roles
      .split(',')
      .map((r) => r.trim())
      .filter(Boolean),
  };
  next();
};

/**
 * Requests as an `X-Test-Actor` (headerActor servers) against the server `current()` returns
 * (started in a beforeAll). `call`: any request, no header when `actor` is undefined; `read`:
 * GET /xrays/{id} as `reader` unless told (expecting 200), the X-ray parsed.
 */
export function actorCalls(current: () => TestServer, reader: string) {
  const call = (urlPath: string, actor: string | undefined, init: RequestInit = {}) =>
    fetch(`${current().url}${urlPath}`, {
      ...init,
      headers: { ...(actor ? { 'X-Test-Actor': actor } : {}), ...(init.headers as Record<string, string> | undefined) },
    });
  const read = async (id: string, actor = reader): Promise<Xray> => {
    const res = await call(`/xrays/${id}`, actor);
    expect(res.status).toBe(200);
    return XraySchema.parse(await res.json());
  };
  return { call, read };
}

export async function countRows(server: RunningServer, table = 'xrays'): Promise<number> {
  const { rows } = await server.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
  return rows[0]?.n ?? 0;
}

/**
 * Every object the store holds (plus, for disk, half-written temp files), recovery records
 * included; not the tombstones deleted X-rays leave for good (xrays/xray-record.ts).
 */
export async function storedObjects(server: TestServer): Promise<string[]> {
  const keys = (await server.store.list('')).filter((k) => !k.endsWith('.deleted'));
  if (server.config.storage.kind === 'fs') {
    const { readdir } = await import('node:fs/promises');
    const tmp = await readdir(path.join(server.config.storage.dir, '.tmp')).catch(() => []);
    return [...keys, ...tmp.map((t) => `.tmp/${t}`)].filter((k) => !k.startsWith(WITNESS_PREFIX));
  }
  // Audit checkpoints live beside the X-rays; they are not X-ray objects.
  return keys.filter((k) => !k.startsWith(WITNESS_PREFIX));
}

export interface MetadataInput {
  id?: string;
  patientId?: string;
  consultationId?: string;
  capturedAt?: string;
  bodyPart?: string;
  view?: string;
  priority?: string;
  notes?: string;
  sha256?: string;
  [k: string]: unknown;
}

export const validMetadata = (over: MetadataInput = {}): MetadataInput => ({
  patientId: 'P-1001',
  capturedAt: '2026-11-27T08:15:00Z',
  bodyPart: 'CHEST',
  view: 'PA',
  priority: 'urgent',
  ...over,
});

/** validMetadata as tus Upload-Metadata fields: strings, objects (identityOverride, …) as JSON. */
export const validTusFields = (over: MetadataInput = {}): Record<string, string> =>
  Object.fromEntries(
    Object.entries(validMetadata(over)).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]),
  );

/** Bytes as a Blob (copied: Blob wants an ArrayBuffer-backed view). */
export const blobOf = (bytes: Uint8Array): Blob => new Blob([new Uint8Array(bytes)]);

/** POST /xrays as a client does it: metadata part first, then the file (a Blob streams from disk). */
export async function postXray(
  baseUrl: string,
  metadata: unknown,
  file: Blob,
  headers: Record<string, string> = {},
): Promise<Response> {
  const form = new FormData();
  form.append('metadata', typeof metadata === 'string' ? metadata : JSON.stringify(metadata));
  form.append('file', file, 'image.bin');
  return fetch(`${baseUrl}/xrays`, { method: 'POST', body: form, headers });
}

/**
 * One PNG X-ray stored through POST /xrays by each of `owners` (headerActor servers), in order,
 * each for a patient of its own (`prefix` and its index); the PNG's seed is `seed` + the index.
 */
export async function storeOwnedXrays(
  baseUrl: string,
  owners: string[],
  { prefix, seed }: { prefix: string; seed: number },
): Promise<{ id: string; patientId: string; owner: string }[]> {
  const stored: { id: string; patientId: string; owner: string }[] = [];
  for (const [i, owner] of owners.entries()) {
    const patientId = `${prefix}-${i}-${randomUUID().slice(0, 6)}`;
    const res = await postXray(baseUrl, validMetadata({ patientId }), blobOf(makePng({ seed: seed + i })), {
      'X-Test-Actor': owner,
    });
    expect(res.status, await res.clone().text()).toBe(201);
    stored.push({ id: XraySchema.parse(await res.json()).id, patientId, owner });
  }
  return stored;
}

/** Who a typed client calls as: `actor` for headerActor servers, `token` for a bearer token. */
export interface ApiCaller {
  actor?: string;
  token?: string;
  headers?: Record<string, string>;
}

/**
 * The typed client generated from openapi.json (openapi-fetch over `@xray/shared/api`), as an
 * integrator calls the API: a path, parameter or body the document lacks fails to compile, and
 * what the server answers is checked against the document by the response check.
 * `const { data, response } = await apiClient(server.url, { actor: DOCTOR }).GET('/xrays/{id}', …)`
 */
export function apiClient(baseUrl: string, as: ApiCaller = {}): ApiClient {
  return createApiClient({
    baseUrl,
    headers: {
      ...(as.actor ? { 'X-Test-Actor': as.actor } : {}),
      ...(as.token ? { Authorization: `Bearer ${as.token}` } : {}),
      ...as.headers,
    },
  });
}

/**
 * The multipart body of POST /xrays as the document's encoding says a generated client sends it:
 * `metadata` a JSON part, then `file` (openapi-fetch's bodySerializer).
 */
export function xrayUploadBody(body: { metadata: ApiSchema<'XrayMetadataInput'>; file: Blob }): FormData {
  const form = new FormData();
  form.append('metadata', new Blob([JSON.stringify(body.metadata)], { type: 'application/json' }), 'metadata.json');
  form.append('file', body.file, 'image.bin');
  return form;
}

/** POST /xrays through the typed client: the X-ray as `data` (201, or 200 for a repeat). */
export function uploadXray(
  api: ApiClient,
  metadata: ApiSchema<'XrayMetadataInput'>,
  file: Blob,
  headers: Record<string, string> = {},
) {
  return api.POST('/xrays', { body: { metadata, file }, bodySerializer: xrayUploadBody, headers });
}

/**
 * From now until the returned function runs, the audit trail refuses every event about
 * `patientId`, as a broken audit store would.
 */
export async function blockAuditFor(server: TestServer, patientId: string): Promise<() => Promise<void>> {
  const name = `test_block_audit_${randomUUID().replaceAll('-', '')}`;
  await asOwner(
    server,
    `
    CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.patient_id = '${patientId}' THEN RAISE EXCEPTION 'audit blocked by test'; END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER ${name} BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION ${name}();`,
  );
  return async () => {
    await asOwner(server, `DROP TRIGGER ${name} ON audit_events; DROP FUNCTION ${name}();`);
  };
}
