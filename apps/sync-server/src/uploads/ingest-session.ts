import { pipeline, Transform } from 'node:stream';
import { ERRORS, type DataStore, type Upload } from '@tus/utils';
import { STALE_UPLOAD_KEY, UPLOAD_KEY_FIELDS } from '@xray/shared';
import type { AuditContext } from '../audit/audit.service.ts';
import type { Actor } from '../auth/actor.ts';
import type { Config } from '../config/config.ts';
import type { Pool } from '../db/pool.ts';
import { DomainError } from '../errors.ts';
import { assertCaptureTimeNotAhead } from '../ingest/capture-time.ts';
import { discardObject } from '../ingest/finalize.ts';
import { ingestStoredObject, type IngestDeps, type UploadedDek } from '../ingest/ingest.service.ts';
import { rawDekBytes } from '../xre1/index.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { XrayRecord } from '../xrays/xray.repository.ts';
import { ArrivalVerifications } from './arrival-verification.ts';
import type { PgAdvisoryLocker } from './pg-advisory.locker.ts';
import { parseTusMetadata, parseUploadedDek, type TusXrayMetadata } from './tus-metadata.ts';
import { releasedKey, type TusStoreAdapter } from './tus-store.adapter.ts';
import { tusUploadRepository, type TusUploadRow } from './tus-upload.repository.ts';

export interface IngestSessionDeps {
  config: Config;
  pool: Pool;
  /** The uploads' locks: finishing holds one, so neither termination nor expiry can cut in. */
  locker: PgAdvisoryLocker;
  tusStore: TusStoreAdapter;
  ingest: IngestDeps;
  log: Logger;
  metrics: Metrics;
}

/**
 * The life of one resumable upload, whatever HTTP it came over: begin (checks, caps, the row that
 * says whose it is), verify (each write decrypted and inspected on arrival), finish (into the same
 * finalize as POST /xrays), and the ways it ends without an X-ray (termination, expiry, refusal),
 * each of which leaves nothing behind.
 */
export class IngestSessions {
  readonly #d: IngestSessionDeps;
  readonly #arrivals: ArrivalVerifications;
  /** The store tus writes through: verified on arrival, bytes counted. */
  readonly dataStore: DataStore;

  constructor(deps: IngestSessionDeps) {
    this.#d = deps;
    const store = deps.tusStore.dataStore;
    this.#arrivals = new ArrivalVerifications({
      maxPlaintextBytes: deps.config.limits.maxUploadBytes,
      countWrite: (id) => tusUploadRepository.countWrite(deps.pool, id),
      keyOf: async (id) => {
        const uploadedDek = parseUploadedDek((await store.getUpload(id)).metadata);
        return { uploadedDek, rawKey: this.#unwrapRaw(uploadedDek) };
      },
    });
    this.dataStore = writesNothingWhenFinished(
      countWrites(this.#arrivals.wrap(store), (n) => deps.metrics.uploadRequestBytes.inc({ method: 'body' }, n)),
      (id) => deps.tusStore.finishedSizeOf(id),
    );
  }

  #unwrapRaw(d: UploadedDek): Promise<Uint8Array> {
    return this.#d.ingest.keys.unwrapUploadedDek(d.wrapped, d.kid).then(rawDekBytes);
  }

  /**
   * A new upload: its metadata and data key are checked and its owner's caps held before a single
   * byte is stored. Returns the X-ray fields it carries.
   */
  async begin(
    actor: Actor,
    upload: Upload,
    /** The enrolled device that asks, if any (revoking it ends the upload). */
    deviceId?: string,
  ): Promise<{ metadata: TusXrayMetadata; stored: Record<string, string> }> {
    const metadata = parseTusMetadata(upload.metadata);
    assertCaptureTimeNotAhead(metadata.capturedAt, this.#d.ingest.captureTimeMaxSkewMs);
    const uploadedDek = parseUploadedDek(upload.metadata);
    // Refuse a data key wrapped for a key we do not hold before a single byte is stored.
    if (!this.#d.ingest.keys.uploadJwks().keys.some((k) => k.kid === uploadedDek.kid)) {
      throw new DomainError('validation_failed', `Unknown upload key "${uploadedDek.kid}"; fetch /keys/upload again.`, [
        STALE_UPLOAD_KEY,
      ]);
    }
    if (upload.sizeIsDeferred || upload.size === undefined) {
      throw new DomainError('bad_request', 'Send Upload-Length: the size of an X-ray is known before it is sent.');
    }
    const { tus } = this.#d.config;
    await tusUploadRepository.insertWithinCaps(
      this.#d.pool,
      {
        id: upload.id,
        xray_id: metadata.id,
        owner_sub: actor.sub,
        upload_length: upload.size,
        object_key: releasedKey(metadata.id, upload.id),
        metadata,
        device_id: deviceId ?? null,
      },
      { ...tus.perUser, expiryMs: tus.expiryMs },
    );
    // A key that does not unwrap is not verified on arrival; finalize refuses it as before.
    this.#arrivals.begin(upload.id, this.#unwrapRaw(uploadedDek), uploadedDek);
    // The tus store's info file keeps only the wrapped data key (any instance verifying a PATCH
    // needs it); the patient and capture fields stay in PostgreSQL, not beside the bytes.
    return { metadata, stored: storedMetadata(upload.metadata) };
  }

  /**
   * A complete upload becomes an X-ray: its bytes move to the X-ray's own key, then the same
   * finalize as POST /xrays. Whatever happens, the tus store holds nothing of it afterwards.
   * An upload another request finished meanwhile (a retried final PATCH that waited for the
   * first) is not finished again: `finishedBefore` is its row, and no X-ray is returned.
   */
  async finish(
    actor: Actor,
    upload: Upload,
    context: AuditContext | undefined,
  ): Promise<{ xray: XrayRecord; finishedBefore?: undefined } | { xray?: undefined; finishedBefore: TusUploadRow }> {
    // tus lets go of the upload's lock before it asks us to finish; take it again for the whole
    // finish (a request that asks for it meanwhile waits: a finish is never given up).
    // Let go in the background once finished: the X-ray is answered without waiting for it.
    const lock = this.#d.locker.deferred.newLock(upload.id);
    await lock.lock(new AbortController().signal, () => undefined);
    try {
      // Read under the lock: a row read before it may predate a finish that ran meanwhile.
      const row = await tusUploadRepository.find(this.#d.pool, upload.id);
      if (row?.finalized_at) {
        this.#arrivals.drop(upload.id);
        return { finishedBefore: row };
      }
      return { xray: await this.#finishLocked(actor, upload, context, row) };
    } finally {
      await lock.unlock();
    }
  }

  async #finishLocked(
    actor: Actor,
    upload: Upload,
    context: AuditContext | undefined,
    row: TusUploadRow | null,
  ): Promise<XrayRecord> {
    const size = upload.size ?? upload.offset;
    const verified = await this.#arrivals.take(upload.id, size);
    try {
      const metadata = parseTusMetadata(row?.metadata ? stringValues(row.metadata) : upload.metadata);
      const objectKey = await this.#d.tusStore.release(upload.id, metadata.id);
      // Flushed to disk while the rest of the finish runs; finalize awaits it before the X-ray commits.
      const durable = this.#d.tusStore.persist(objectKey);
      durable.catch(() => undefined); // its failure is finalize's to report
      const { xray } = await ingestStoredObject(this.#d.ingest, {
        metadata,
        actor,
        objectKey,
        cipherSize: size,
        uploadedDek: parseUploadedDek(upload.metadata),
        verified,
        durable,
        context,
      });
      // The tus files go before the row is marked finalized: an instance killed in between leaves
      // an unfinalized row, which the expiry sweep removes with whatever is left (the stored X-ray
      // kept). The other order left the upload's .info in the bucket for ever (found by the soak).
      await this.#d.tusStore
        .discard(upload.id)
        .catch((err: unknown) => this.#d.log.warn({ err, uploadId: upload.id }, 'finished upload leftovers remain'));
      await tusUploadRepository.markFinalized(this.#d.pool, upload.id);
      return xray;
    } catch (err) {
      // Refused: finalize removed the X-ray object; the tus files and the row go too.
      await this.abandon(upload.id);
      this.#d.log.info({ err, uploadId: upload.id }, 'tus upload refused at finalize');
      throw err;
    }
  }

  /** Removes all an unfinished upload left (tus files, its row, its verification); safe to repeat. */
  async abandon(id: string): Promise<void> {
    this.#arrivals.drop(id);
    await this.#d.tusStore
      .discard(id)
      .catch((err: unknown) => this.#d.log.warn({ err, uploadId: id }, 'upload leftovers not removed'));
    await tusUploadRepository.deleteUnfinished(this.#d.pool, id).catch(() => undefined);
  }

  /**
   * Ends these unfinished uploads now (a revoked device's): rows and objects, as a termination
   * does. One being written at this moment (its lock is held) is left to the expiry sweep; its
   * device's next request is refused anyway. Returns how many were ended.
   */
  async endUploads(rows: readonly { id: string; xray_id: string; object_key: string }[]): Promise<number> {
    let ended = 0;
    for (const row of rows) {
      const lock = await this.#d.locker.tryLock(row.id);
      if (!lock) continue;
      try {
        const now = await tusUploadRepository.find(this.#d.pool, row.id);
        if (!now || now.finalized_at) continue;
        await this.abandon(row.id);
        await discardObject(this.#d.ingest, row.xray_id, row.object_key).catch((err: unknown) =>
          this.#d.log.warn({ err, key: row.object_key }, 'ended upload leftover not removed'),
        );
        ended++;
      } finally {
        await lock.unlock();
      }
    }
    return ended;
  }

  /** Removes expired unfinished uploads; one instance at a time (an advisory lock), safe to call anywhere. */
  async cleanupExpired(): Promise<number> {
    const { pool, config, log } = this.#d;
    const client = await pool.connect();
    try {
      const { rows } = await client.query<{ ok: boolean }>(
        "SELECT pg_try_advisory_lock(hashtextextended('tus-cleaner', 0)) AS ok",
      );
      if (!rows[0]?.ok) return 0;
      try {
        // Our rows say which uploads expired; the tus store's own sweep finds any it lost track of.
        const expired = await tusUploadRepository.listExpired(pool, config.tus.expiryMs);
        let abandoned = 0;
        for (const row of expired) {
          // An upload being written or finished right now is not touched: its lock says so.
          const lock = await this.#d.locker.tryLock(row.id);
          if (!lock) continue;
          try {
            const now = await tusUploadRepository.find(pool, row.id);
            if (!now || now.finalized_at) continue;
            await this.abandon(row.id);
            // Bytes moved to the X-ray's key by a finish that never committed (kept if it did commit).
            await discardObject(this.#d.ingest, row.xray_id, row.object_key).catch((err: unknown) =>
              log.warn({ err, key: row.object_key }, 'expired upload leftover not removed'),
            );
            abandoned++;
          } finally {
            await lock.unlock();
          }
        }
        const swept = await this.#d.tusStore.sweepExpired();
        const removed = abandoned + swept;
        if (removed > 0) log.info({ removed }, 'expired tus uploads removed');
        return removed;
      } finally {
        await client.query("SELECT pg_advisory_unlock(hashtextextended('tus-cleaner', 0))");
      }
    } finally {
      client.release();
    }
  }
}

/** What the tus store keeps of an upload's metadata: the data key, wrapped for our upload key. */
function storedMetadata(raw: Upload['metadata']): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const key of Object.values(UPLOAD_KEY_FIELDS)) {
    const v = raw?.[key];
    if (typeof v === 'string') kept[key] = v;
  }
  return kept;
}

/** The row's fields as Upload-Metadata values (strings; an object field as its JSON text), for the one metadata parser. */
function stringValues(o: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(o)) {
    if (typeof v === 'string') out[k] = v;
    else if (typeof v === 'object' && v !== null) out[k] = JSON.stringify(v);
  }
  return out;
}

/**
 * A finished upload (tus reported it from its row: its files are gone) takes no write: its size is
 * its offset, and no file is opened (the retried final PATCH that waited for the finish gets here).
 */
function writesNothingWhenFinished(store: DataStore, finishedSizeOf: (id: string) => number | undefined): DataStore {
  const write = store.write.bind(store);
  store.write = async (src, id, offset) => {
    const size = finishedSizeOf(id);
    if (size === undefined) return write(src, id, offset);
    // tus lets no byte past the end through (Upload-Length): the body is empty; drained all the same.
    for await (const chunk of src) {
      if ((chunk as Buffer).length > 0) throw ERRORS.ERR_SIZE_EXCEEDED;
    }
    return size;
  };
  return store;
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
