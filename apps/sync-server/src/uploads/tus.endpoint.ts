import path from 'node:path';
import { FileStore } from '@tus/file-store';
import { S3Store } from '@tus/s3-store';
import { Server as TusServer } from '@tus/server';
import { Metadata, type DataStore, type Upload } from '@tus/utils';
import { pipeline, Transform } from 'node:stream';
import { Router, type Request, type Response } from 'express';
import { auditContextOf, auditOf } from '../audit/audit.http.ts';
import type { AuditContext } from '../audit/audit.service.ts';
import type { Actor } from '../auth/actor.ts';
import type { Config } from '../config/config.ts';
import type { Pool } from '../db/pool.ts';
import { DomainError, isDomainError, type ErrorCode } from '../errors.ts';
import { toProblem } from '../http/problem.ts';
import {
  ciphertextLength,
  DEFAULT_SEGMENT_SIZE,
  MAX_HEADER_LENGTH,
  STALE_UPLOAD_KEY,
  XrayIdSchema,
} from '@xray/shared';
import { authorize } from '../auth/policy.ts';
import { ingestStoredObject, type IngestDeps, type UploadedDek } from '../ingest/ingest.service.ts';
import { rawDekBytes } from '../ingest/xre1.node.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { s3ClientConfig } from '../storage/s3.store.ts';
import { addContentMd5ForDeleteObjects } from '../storage/swift-compat.ts';
import type { ObjectStore } from '../storage/index.ts';
import { xrayRepository, toResource } from '../xrays/xray.repository.ts';
import { ArrivalVerifications } from './arrival-verification.ts';
import type { PgAdvisoryLocker } from './pg-advisory.locker.ts';
import { parseTusMetadata, parseUploadedDek } from './tus-metadata.ts';
import { tusUploadRepository } from './tus-upload.repository.ts';

export const TUS_PATH = '/uploads';
/** Upload ids of the form done-<xray id> stand for an X-ray stored through another door. */
const DONE_PREFIX = 'done-';
const XRAY_HEADERS = ['X-Xray-Id', 'X-Xray-Sha256'];

export interface TusEndpointDeps {
  config: Config;
  pool: Pool;
  store: ObjectStore;
  locker: PgAdvisoryLocker;
  ingest: IngestDeps;
  log: Logger;
  metrics: Metrics;
}

/** @tus/s3-store with the same compatibility settings as our own S3 client. */
class CompatibleS3Store extends S3Store {
  constructor(checksumsWhenRequired: boolean, options: ConstructorParameters<typeof S3Store>[0]) {
    super(options);
    if (checksumsWhenRequired) addContentMd5ForDeleteObjects(this.client);
  }
}

/** Where the tus store keeps an upload's bytes and its info, as keys of our ObjectStore. */
function storeLayout(config: Config): {
  dataStore: () => DataStore;
  objectKey: (id: string) => string;
  infoKey: (id: string) => string;
} {
  const s = config.storage;
  if (s.kind === 'fs') {
    return {
      dataStore: () =>
        new FileStore({ directory: path.join(s.dir, 'uploads'), expirationPeriodInMilliseconds: config.tus.expiryMs }),
      objectKey: (id) => `uploads/${id}`,
      infoKey: (id) => `uploads/${id}.json`,
    };
  }
  return {
    // S3 needs parts of at least 5 MiB (except the last): clients should send chunks of >= 5 MiB.
    dataStore: () =>
      new CompatibleS3Store(s.checksumsWhenRequired, {
        partSize: s.partSize,
        maxConcurrentPartUploads: s.queueSize,
        useTags: config.tus.s3UseTags,
        expirationPeriodInMilliseconds: config.tus.expiryMs,
        s3ClientConfig: { ...s3ClientConfig(s), bucket: s.bucket },
      }),
    objectKey: (id) => id,
    infoKey: (id) => `${id}.info`,
  };
}

/** Counts the body bytes the store receives: what a client really sent, for resumption metrics. */
function countWrites(store: DataStore, count: (bytes: number) => void): DataStore {
  const write = store.write.bind(store);
  store.write = (src, id, offset) => {
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        count(chunk.length);
        done(null, chunk);
      },
    });
    return write(
      pipeline(src, counter, () => undefined),
      id,
      offset,
    );
  };
  return store;
}

const TUS_STATUS_CODES: Partial<Record<number, ErrorCode>> = {
  400: 'bad_request',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  410: 'not_found',
  413: 'payload_too_large',
  423: 'conflict',
};

const problemBody = (err: DomainError) => JSON.stringify(toProblem(err));
const tusError = (err: DomainError) => ({ status_code: toProblem(err).status, body: problemBody(err) });

/**
 * The resumable door the edge app uses: tus 1.0 (creation, creation-with-upload, termination,
 * expiration) at /uploads. A finished upload goes through the same finalize as POST /xrays.
 */
export function createTusEndpoint(deps: TusEndpointDeps) {
  const { config, pool, log } = deps;
  const layout = storeLayout(config);
  // Requests reach tus as web Requests; the authenticated actor travels beside the node request.
  const actors = new WeakMap<object, Actor>();
  // …and so does who asked, from where, for the audit event finalize writes.
  const contexts = new WeakMap<object, AuditContext>();
  const contextOf = (req: { runtime?: { node?: { req: object } } }): AuditContext | undefined => {
    const node = req.runtime?.node?.req;
    return node ? contexts.get(node) : undefined;
  };
  const actorOf = (req: { runtime?: { node?: { req: object } } }): Actor => {
    const node = req.runtime?.node?.req;
    const actor = node ? actors.get(node) : undefined;
    if (!actor) throw tusError(new DomainError('unauthenticated', 'Sign in to upload.'));
    return actor;
  };

  // Each PATCH is decrypted and inspected on its way to the store, so finalize need not read it back.
  const unwrapRaw = (d: UploadedDek) => deps.ingest.keys.unwrapUploadedDek(d.wrapped, d.kid).then(rawDekBytes);
  const dataStore = layout.dataStore();
  const arrivals = new ArrivalVerifications({
    maxPlaintextBytes: config.limits.maxUploadBytes,
    countWrite: (id) => tusUploadRepository.countWrite(pool, id),
    keyOf: async (id) => {
      const uploadedDek = parseUploadedDek((await dataStore.getUpload(id)).metadata);
      return { uploadedDek, rawKey: unwrapRaw(uploadedDek) };
    },
  });

  const tus = new TusServer({
    path: TUS_PATH,
    datastore: countWrites(arrivals.wrap(dataStore), (n) => deps.metrics.uploadRequestBytes.inc({ method: 'body' }, n)),
    locker: deps.locker,
    // Upload-Length counts ciphertext: the largest plaintext plus XRE1's header and tags.
    maxSize: ciphertextLength(config.limits.maxUploadBytes, MAX_HEADER_LENGTH, DEFAULT_SEGMENT_SIZE),
    respectForwardedHeaders: config.http.trustProxy.length > 0,
    relativeLocation: false,
    exposedHeaders: XRAY_HEADERS,
    ...(config.http.publicUrl
      ? { generateUrl: (_req, { path: p, id }) => `${config.http.publicUrl!.replace(/\/$/, '')}${p}/${id}` }
      : {}),

    // tus's own refusals (offset conflict, too large, not found) as problem+json too.
    onResponseError(_req, err) {
      if (!('status_code' in err) || err.body.trimStart().startsWith('{')) return undefined;
      const code = TUS_STATUS_CODES[err.status_code];
      return code ? tusError(new DomainError(code, err.body.trim())) : undefined;
    },

    async onUploadCreate(req, upload: Upload) {
      const actor = actorOf(req);
      let metadata;
      let uploadedDek;
      try {
        authorize(actor, 'xray.create');
        metadata = parseTusMetadata(upload.metadata);
        uploadedDek = parseUploadedDek(upload.metadata);
        const { kid } = uploadedDek;
        // Refuse a data key wrapped for a key we do not hold before a single byte is stored.
        if (!deps.ingest.keys.uploadJwks().keys.some((k) => k.kid === kid)) {
          throw new DomainError('validation_failed', `Unknown upload key "${kid}"; fetch /keys/upload again.`, [
            STALE_UPLOAD_KEY,
          ]);
        }
      } catch (err) {
        throw isDomainError(err) ? tusError(err) : err;
      }
      if (upload.sizeIsDeferred) {
        throw tusError(
          new DomainError('bad_request', 'Send Upload-Length: the size of an X-ray is known before it is sent.'),
        );
      }
      await tusUploadRepository.insert(pool, {
        id: upload.id,
        xray_id: metadata.id,
        owner_sub: actor.sub,
        upload_length: upload.size ?? 0,
        object_key: layout.objectKey(upload.id),
      });
      // A key that does not unwrap is not verified on arrival; finalize refuses it as before.
      arrivals.begin(upload.id, unwrapRaw(uploadedDek), uploadedDek);
      return { metadata: { ...upload.metadata, owner: actor.sub } };
    },

    async onUploadFinish(req, upload: Upload) {
      const actor = actorOf(req);
      const objectKey = layout.objectKey(upload.id);
      const verified = arrivals.take(upload.id, upload.size ?? upload.offset);
      try {
        const metadata = parseTusMetadata(upload.metadata);
        const { xray } = await ingestStoredObject(deps.ingest, {
          metadata,
          actor,
          objectKey,
          cipherSize: upload.size ?? upload.offset,
          uploadedDek: parseUploadedDek(upload.metadata),
          verified,
          context: contextOf(req),
        });
        await deps.store.delete(layout.infoKey(upload.id)).catch(() => undefined);
        await tusUploadRepository.markFinalized(pool, upload.id);
        return { status_code: 204, headers: { 'X-Xray-Id': xray.id, 'X-Xray-Sha256': xray.sha256 } };
      } catch (err) {
        // Nothing half-done may stay: not the bytes (finalize removed them), not the info, not the row.
        await deps.store.delete(layout.infoKey(upload.id)).catch(() => undefined);
        await tusUploadRepository.delete(pool, upload.id).catch(() => undefined);
        log.info({ err, uploadId: upload.id }, 'tus upload refused at finalize');
        throw isDomainError(err) ? tusError(err) : err;
      }
    },
  });

  const router = Router();

  router.use(TUS_PATH, (req, _res, next) => {
    if (req.actor) actors.set(req, req.actor);
    contexts.set(req, auditContextOf(req));
    next();
  });

  // Re-creating an upload for an X-ray that is already stored answers with that X-ray, not a duplicate.
  router.post(TUS_PATH, async (req, res, next) => {
    const header = req.headers['upload-metadata'];
    let id: string | undefined;
    let sha256: string | undefined;
    try {
      const meta = typeof header === 'string' ? Metadata.parse(header) : {};
      id = meta.id ?? undefined;
      sha256 = meta.sha256 ?? undefined;
    } catch {
      return next(); // tus answers malformed metadata itself
    }
    const existing = XrayIdSchema.safeParse(id).success && id ? await xrayRepository.findById(pool, id) : null;
    if (!existing) return next();
    if (sha256 !== existing.sha256) {
      throw new DomainError('conflict', `X-ray ${existing.id} already exists with different content.`);
    }
    // Location names a finished upload (the original one, or a stand-in for an X-ray that came
    // through POST /xrays); a tus client that resumes there learns at once that it is complete.
    const finished = await tusUploadRepository.findFinalizedFor(pool, existing.id);
    const base = config.http.publicUrl?.replace(/\/$/, '') ?? `${req.protocol}://${req.get('host')}`;
    res
      .status(200)
      .set({
        'Tus-Resumable': '1.0.0',
        Location: `${base}${TUS_PATH}/${finished?.id ?? `${DONE_PREFIX}${existing.id}`}`,
        'Upload-Offset': String(finished?.upload_length ?? existing.sizeBytes),
        'X-Xray-Id': existing.id,
        'X-Xray-Sha256': existing.sha256,
        'Access-Control-Expose-Headers': ['Location', 'Upload-Offset', ...XRAY_HEADERS].join(', '),
      })
      .json(toResource(existing));
  });

  // HEAD/PATCH/DELETE: only the creator may touch an upload; a finished one answers from PostgreSQL.
  router.all(`${TUS_PATH}/:uploadId`, async (req: Request, res: Response, next) => {
    if (req.method === 'PATCH' && req.headers['content-type'] !== 'application/offset+octet-stream') {
      throw new DomainError(
        'unsupported_media_type',
        'A tus PATCH must have Content-Type: application/offset+octet-stream.',
      );
    }
    const uploadId = String(req.params.uploadId);
    const row = uploadId.startsWith(DONE_PREFIX)
      ? await tusUploadRepository.standInFor(pool, uploadId.slice(DONE_PREFIX.length))
      : await tusUploadRepository.find(pool, uploadId);
    if (!row) return next();
    const actor = req.actor;
    if (!actor || (row.owner_sub !== actor.sub && !actor.roles.includes('admin'))) {
      // Someone else's upload: do not even confirm it exists (the audit trail records the denial).
      auditOf(req).begin('xray.create').about({ xrayId: row.xray_id }).denying('not_owner');
      throw new DomainError('not_found', 'No such upload.');
    }
    if (!row.finalized_at || (req.method !== 'HEAD' && req.method !== 'PATCH')) return next();
    const x = await xrayRepository.findById(pool, row.xray_id);
    const length = String(row.upload_length);
    res.set({
      'Tus-Resumable': '1.0.0',
      'Upload-Offset': length,
      'Upload-Length': length,
      'Cache-Control': 'no-store',
      'Access-Control-Expose-Headers': ['Upload-Offset', 'Upload-Length', ...XRAY_HEADERS].join(', '),
      ...(x ? { 'X-Xray-Id': x.id, 'X-Xray-Sha256': x.sha256 } : {}),
    });
    if (req.method === 'HEAD') return void res.status(200).end();
    // A repeated final PATCH (its response was lost) at the end offset succeeds again; anything else conflicts.
    if (req.headers['upload-offset'] === length) return void res.status(204).end();
    throw new DomainError('conflict', 'This upload is already complete.');
  });

  router.all([TUS_PATH, `${TUS_PATH}/*splat`], (req, res) => {
    void tus.handle(req, res);
  });

  /** Removes expired unfinished uploads; one instance at a time (an advisory lock), safe to call anywhere. */
  async function cleanupExpired(): Promise<number> {
    const client = await pool.connect();
    try {
      const { rows } = await client.query<{ ok: boolean }>(
        "SELECT pg_try_advisory_lock(hashtextextended('tus-cleaner', 0)) AS ok",
      );
      if (!rows[0]?.ok) return 0;
      try {
        const removed = await tus.cleanUpExpiredUploads();
        // Our own rows say which uploads expired: remove whatever the tus store left of them too.
        for (const row of await tusUploadRepository.listExpired(pool, config.tus.expiryMs)) {
          arrivals.drop(row.id);
          for (const key of [row.object_key, layout.infoKey(row.id), `${row.object_key}.part`]) {
            await deps.store
              .delete(key)
              .catch((err: unknown) => log.warn({ err, key }, 'expired upload leftover not removed'));
          }
        }
        await tusUploadRepository.deleteExpired(pool, config.tus.expiryMs);
        if (removed > 0) log.info({ removed }, 'expired tus uploads removed');
        return removed;
      } finally {
        await client.query("SELECT pg_advisory_unlock(hashtextextended('tus-cleaner', 0))");
      }
    } finally {
      client.release();
    }
  }

  let timer: NodeJS.Timeout | undefined;
  return {
    router,
    cleanupExpired,
    startCleaner() {
      timer = setInterval(
        () => void cleanupExpired().catch((err: unknown) => log.warn({ err }, 'tus cleanup failed')),
        config.tus.cleanupIntervalMs,
      );
      timer.unref();
    },
    stopCleaner() {
      if (timer) clearInterval(timer);
    },
  };
}

export type TusEndpoint = ReturnType<typeof createTusEndpoint>;
