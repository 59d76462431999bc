import { randomUUID } from 'node:crypto';
import { Server as TusServer } from '@tus/server';
import { ERRORS, Metadata, type Upload } from '@tus/utils';
import { Router, type Request, type Response } from 'express';
import { NodeRequest } from 'srvx/node';
import {
  ciphertextLength,
  DEFAULT_SEGMENT_SIZE,
  MAX_HEADER_LENGTH,
  UPLOAD_HEADERS,
  UPLOAD_ID_PATTERN,
  UPLOAD_PATH,
  UPLOAD_PROBLEM_CODES,
  XrayIdSchema,
} from '@xray/shared';
import { auditOf, type RequestAudit } from '../audit/audit.http.ts';
import type { Actor } from '../auth/actor.ts';
import { authorize, decide, type Action } from '../auth/policy.ts';
import type { Config } from '../config/config.ts';
import type { Pool } from '../db/pool.ts';
import { DomainError, isDomainError, noSuch, type ErrorCode } from '../errors.ts';
import { classify } from '../http/problem.ts';
import { wentSilent } from '../http/silent-bodies.ts';
import { createdEvent } from '../ingest/finalize.ts';
import { repeatOf } from '../ingest/repeat-rule.ts';
import type { IngestDeps } from '../ingest/ingest.service.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { ObjectStore } from '../storage/index.ts';
import { refuseDeletedId } from '../ingest/tombstone-rule.ts';
import { xrayChangeRepository } from '../xrays/xray-changes.repository.ts';
import { toResource, xrayRepository } from '../xrays/xray.repository.ts';
import { deviceRepository } from '../devices/device.repository.ts';
import { IngestSessions } from './ingest-session.ts';
import { LockTimeoutError, type PgAdvisoryLocker } from './pg-advisory.locker.ts';
import { createTusStore } from './tus-store.adapter.ts';
import { parseTusMetadata } from './tus-metadata.ts';
import { tusUploadRepository, type TusUploadRow } from './tus-upload.repository.ts';
import { WritingSlots } from './writing-slots.ts';
import { uploadOperations } from './tus.operations.ts';
import { RouteTable } from '../http/route-table.ts';

export interface UploadDoorDeps {
  config: Config;
  pool: Pool;
  store: ObjectStore;
  locker: PgAdvisoryLocker;
  ingest: IngestDeps;
  log: Logger;
  metrics: Metrics;
}

const XRAY_HEADERS = [UPLOAD_HEADERS.xrayId, UPLOAD_HEADERS.xraySha256];
const xrayHeaders = (x: { id: string; sha256: string }) => ({
  [UPLOAD_HEADERS.xrayId]: x.id,
  [UPLOAD_HEADERS.xraySha256]: x.sha256,
});
/** How soon a client asks again about an upload whose X-ray is still being stored (after the lock's timeout). */
const BEING_STORED_RETRY_S = 5;
/** Response headers of tus's that a refusal keeps (the protocol version, CORS). */
const KEPT_ON_REFUSAL = /^(tus-|access-control-)/i;

/** tus's own refusals, by status. tus answers 403 for missing PATCH headers: a malformed request, not a denial. */
const TUS_STATUS_CODES: Partial<Record<number, ErrorCode>> = {
  400: 'bad_request',
  403: 'bad_request',
  404: 'not_found',
  409: 'conflict',
  410: 'not_found',
  412: 'precondition_failed',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  423: 'conflict',
  460: 'checksum_mismatch',
  501: 'bad_request',
};

/** Who a tus request acts for, and on which upload it was allowed to act (`new`: a creation). */
interface Grant {
  actor: Actor;
  audit: RequestAudit;
  uploadId: string;
  /** The X-ray the upload becomes, when known. */
  xrayId?: string;
  /** The upload a creation made, until it is answered (removed again if the creation fails). */
  created?: string;
  /** The enrolled device that asks (its DPoP key), if any. */
  deviceId?: string;
}
const NEW = 'new';

/** A tus answer that says every byte is in (offset = length). */
const isAtEnd = (h: Headers) => {
  const length = h.get('upload-length');
  return length !== null && h.get('upload-offset') === length;
};

/** `/uploads` → the collection; `/uploads/{uuid}` → that upload; any other shape → null. */
function targetOf(path: string): { upload: string | null } | null {
  if (path === UPLOAD_PATH) return { upload: null };
  const rest = path.startsWith(`${UPLOAD_PATH}/`) ? path.slice(UPLOAD_PATH.length + 1) : '';
  return UPLOAD_ID_PATTERN.test(rest) ? { upload: rest } : null;
}

/** Every path Express routes here (it matches case-insensitively): refused unless exactly right. */
const isUploadsPath = (path: string) => {
  const p = path.toLowerCase();
  return p === UPLOAD_PATH || p.startsWith(`${UPLOAD_PATH}/`);
};

/**
 * The resumable door the edge app uses: tus 1.0 (creation, creation-with-upload, termination,
 * expiration) at `/uploads` and `/uploads/{uuid}`, and nowhere else. Every request is decided by
 * the policy table on the very upload tus then acts on, every refusal is a problem+json through
 * the one problem mapper and request audit, and a finished upload is an X-ray, no longer a tus
 * resource: it answers from PostgreSQL and can be neither written nor terminated.
 */
export async function createUploadDoor(deps: UploadDoorDeps) {
  const { config, pool } = deps;
  const tusStore = await createTusStore(config, deps.store, {
    finishedSize: (id) => tusUploadRepository.finishedSize(pool, id),
  });
  const sessions = new IngestSessions({
    config,
    pool,
    locker: deps.locker,
    tusStore,
    ingest: deps.ingest,
    log: deps.log,
    metrics: deps.metrics,
  });
  const slots = new WritingSlots(config.tus.perUser.maxPatches);

  // tus sees web Requests; what the door decided travels beside the node request.
  const grants = new WeakMap<object, Grant>();
  /** What tus answered a refusal with (its own error or one of ours thrown from a hook). */
  const failures = new WeakMap<object, unknown>();
  const nodeOf = (req: { runtime?: { node?: { req: object } } }): object | undefined => req.runtime?.node?.req;
  const grantOf = (req: { runtime?: { node?: { req: object } } }): Grant => {
    const node = nodeOf(req);
    const grant = node && grants.get(node);
    if (!grant) throw new DomainError('unauthenticated', 'Sign in to upload.');
    return grant;
  };

  const tus = new TusServer({
    path: UPLOAD_PATH,
    datastore: sessions.dataStore,
    // Answered without waiting for the unlock's round trip (the lock is held until it is done).
    locker: deps.locker.deferred,
    // Upload-Length counts ciphertext: the largest plaintext plus XRE1's header and tags.
    maxSize: ciphertextLength(config.limits.maxUploadBytes, MAX_HEADER_LENGTH, DEFAULT_SEGMENT_SIZE),
    respectForwardedHeaders: config.http.trustProxy.length > 0,
    relativeLocation: false,
    exposedHeaders: XRAY_HEADERS,
    allowedOrigins: (origin) => config.http.corsAllowedOrigins.includes(origin),
    // All bytes in means an X-ray (being) stored: termination is refused from then on.
    disableTerminationForFinishedUploads: true,
    namingFunction: () => randomUUID(),
    // The path alone names the upload (tus would take the last segment of the whole URL, query included).
    getFileIdFromRequest: (req) => targetOf(new URL(req.url).pathname)?.upload ?? undefined,
    ...(config.http.publicUrl
      ? { generateUrl: (_req, { path: p, id }) => `${config.http.publicUrl!.replace(/\/$/, '')}${p}/${id}` }
      : {}),

    // The door allowed one upload; tus must be acting on that very one.
    async onIncomingRequest(req, id) {
      const grant = grantOf(req);
      const expected = req.method === 'POST' ? NEW : id;
      if (grant.uploadId !== expected) {
        throw noSuch('upload', { denial: 'path' });
      }
    },

    onResponseError(req, err) {
      const node = nodeOf(req);
      if (node) failures.set(node, err);
      return undefined;
    },

    async onUploadCreate(req, upload: Upload) {
      const grant = grantOf(req);
      const { metadata, stored } = await sessions.begin(grant.actor, upload, grant.deviceId);
      grant.created = upload.id;
      // From here on the request is about this upload (refusals before it: a refused X-ray creation).
      grant.audit.begin('upload.create').about({ xrayId: metadata.id, patientId: metadata.patientId });
      return { metadata: stored };
    },

    async onUploadFinish(req, upload: Upload) {
      const grant = grantOf(req);
      // Completing the upload is creating the X-ray: audited as the REST door's POST is.
      const audit = grant.audit.begin('xray.create');
      const { xray, finishedBefore } = await sessions.finish(grant.actor, upload, audit.context());
      if (finishedBefore) {
        // A retried final PATCH that waited for the finish: answered as a finished upload is
        // (204 naming its X-ray), audited as the PATCH it is; nothing is created again.
        audit.begin('upload.continue');
        const x = await xrayRepository.findById(pool, finishedBefore.xray_id);
        return { status_code: 204, headers: x ? xrayHeaders(x) : {} };
      }
      grant.created = undefined;
      audit.recordedInTransaction();
      return {
        // creation-with-upload keeps its 201 (and Location); a PATCH answers 204.
        ...(req.method === 'POST' ? {} : { status_code: 204 }),
        headers: xrayHeaders(xray),
      };
    },
  });

  /** Runs tus for a request the door allowed; a refusal becomes our problem (thrown to the one mapper). */
  async function runTus(req: Request, res: Response, grant: Grant): Promise<void> {
    grants.set(req, grant);
    const answer = await tus.handleWeb(new NodeRequest({ req, res }));
    // A creation whose body was cut off: the client never learns its Location, so nothing may stay
    // (tus answers such a creation as if it went well).
    if (grant.created && (wentSilent(req) || !req.complete)) {
      await sessions.abandon(grant.created);
      throw refusalOf(req, grant, answer.status >= 400 ? answer.status : 499, '', failures.get(req));
    }
    if (answer.status >= 400) {
      if (grant.created) await sessions.abandon(grant.created);
      answer.headers.forEach((v, k) => {
        if (KEPT_ON_REFUSAL.test(k)) res.setHeader(k, v);
      });
      throw refusalOf(req, grant, answer.status, await answer.text(), failures.get(req));
    }
    // All bytes in but not known as an X-ray when the door looked (tus-js-client takes an end offset
    // as done, so it must come with the X-ray's id): answered from the row as it is now.
    if (req.method === 'HEAD' && answer.status === 200 && isAtEnd(answer.headers)) {
      return answerAtEnd(req, res, grant);
    }
    if (req.method === 'DELETE') await sessions.abandon(grant.uploadId);
    // A creation or termination that went through is on the record before it is answered.
    if (req.method === 'POST' || req.method === 'DELETE') {
      await grant.audit.success({ uploadId: grant.created ?? grant.uploadId });
    }
    const body = Buffer.from(await answer.arrayBuffer());
    res.status(answer.status);
    // tus answers with an empty body, which a web Response types text/plain: no body, no type.
    answer.headers.forEach((v, k) => {
      if (body.length > 0 || k !== 'content-type') res.setHeader(k, v);
    });
    res.end(body);
  }

  function refusalOf(req: Request, grant: Grant, status: number, body: string, failure: unknown): DomainError {
    if (wentSilent(req)) {
      return new DomainError(
        UPLOAD_PROBLEM_CODES.idle,
        `No bytes arrived for ${config.tus.idleTimeoutMs} ms; the request was ended. What arrived is kept: resume from HEAD.`,
      );
    }
    if (isDomainError(failure)) return failure;
    if (failure === ERRORS.INVALID_TERMINATION) return uploadComplete(grant.xrayId);
    if (failure instanceof LockTimeoutError) {
      if (req.method === 'HEAD') return uploadBusy('The upload is busy (being stored, or another request holds it).');
      return new DomainError(
        'conflict',
        'The upload is busy (being stored, or another request holds it); try again shortly.',
        undefined,
        {
          retryAfterS: BEING_STORED_RETRY_S,
        },
      );
    }
    const code = TUS_STATUS_CODES[status];
    if (code) return new DomainError(code, body.trim() || `The upload request was refused (${status}).`);
    // Anything else (storage, database, a bug) is classified like every other error; no tus text leaks.
    return classify(failure ?? new Error(`tus answered ${status}`), req);
  }

  /** 423 with Retry-After: tus-js-client retries it (a 409 on HEAD makes it forget the upload). */
  const uploadBusy = (detail: string) =>
    new DomainError('upload_busy', detail, undefined, { retryAfterS: BEING_STORED_RETRY_S });

  const uploadComplete = (xrayId: string | undefined) =>
    new DomainError(
      UPLOAD_PROBLEM_CODES.complete,
      `This upload is stored as X-ray ${xrayId ?? '(being stored)'}; nothing was removed. An X-ray is deleted with DELETE /xrays/{id}.`,
    );

  /**
   * A HEAD that found all bytes in: tus-js-client takes an end offset as done, so it only ever
   * comes with the X-ray's id. Finished by now: answered as a finished upload. Not yet: finished
   * here, under the upload's lock, which waits for a finish running elsewhere (and then finds it
   * done) or, when none runs (its instance died between the last byte and the X-ray), stores it.
   * A finish that holds the lock too long: 423 with Retry-After, which tus-js-client and the
   * edge's retry policy retry (a 409 or 404 there would drop the upload's URL and start again).
   */
  async function answerAtEnd(req: Request, res: Response, grant: Grant): Promise<void> {
    const row = await tusUploadRepository.find(pool, grant.uploadId);
    if (row && !row.finalized_at) {
      // Gone meanwhile: finished (its row says so) or ended (404).
      const upload = await sessions.dataStore.getUpload(grant.uploadId).catch(() => null);
      if (!upload) return answerFromRow(req, res, grant.uploadId);
      const audit = grant.audit.begin('xray.create');
      try {
        const { finishedBefore } = await sessions.finish(grant.actor, upload, audit.context());
        if (finishedBefore) audit.begin('upload.continue');
        else audit.recordedInTransaction();
      } catch (err) {
        if (!(err instanceof LockTimeoutError)) throw err;
        audit.begin('upload.continue');
        throw uploadBusy('All bytes are in and the X-ray is being stored; ask again shortly to learn its id.');
      }
      return answerFromRow(req, res, grant.uploadId);
    }
    if (!row?.finalized_at) throw noSuch('upload');
    return answerFinished(req, res, row);
  }

  /** A finished upload's answer from its row as it is now; an ended one is not found. */
  async function answerFromRow(req: Request, res: Response, id: string): Promise<void> {
    const row = await tusUploadRepository.find(pool, id);
    if (!row?.finalized_at) throw noSuch('upload');
    return answerFinished(req, res, row);
  }

  /** The answer about a finished upload, from PostgreSQL: it is an X-ray now, not a tus resource. */
  async function answerFinished(req: Request, res: Response, row: TusUploadRow): Promise<void> {
    if (req.method === 'DELETE') throw uploadComplete(row.xray_id);
    const x = await xrayRepository.findById(pool, row.xray_id);
    const length = String(row.upload_length);
    res.set({
      'Tus-Resumable': '1.0.0',
      'Upload-Offset': length,
      'Upload-Length': length,
      'Cache-Control': 'no-store',
      'Access-Control-Expose-Headers': ['Upload-Offset', 'Upload-Length', ...XRAY_HEADERS].join(', '),
      ...(x ? xrayHeaders(x) : {}),
    });
    if (req.method === 'HEAD') return void res.status(200).end();
    // A repeated final PATCH (its response was lost) at the end offset succeeds again; anything else conflicts.
    if (req.headers['upload-offset'] === length) return void res.status(204).end();
    throw new DomainError('conflict', 'This upload is already complete.');
  }

  /** Re-creating an upload for an X-ray that is stored: the repeat rule, as on POST /xrays. */
  async function answerRepeat(req: Request, res: Response, actor: Actor, audit: RequestAudit): Promise<boolean> {
    const header = req.headers['upload-metadata'];
    let meta: Record<string, string | null>;
    try {
      meta = typeof header === 'string' ? Metadata.parse(header) : {};
    } catch {
      return false; // tus answers malformed metadata itself
    }
    const id = meta.id ?? undefined;
    if (!id || !XrayIdSchema.safeParse(id).success) return false;
    const { xray: existing, tombstone } = await xrayChangeRepository.findForUpload(pool, id);
    if (!existing && tombstone) {
      // Refused before the upload exists (no byte is stored), on the trail as a refused creation.
      audit.about({ xrayId: id });
      refuseDeletedId(actor, id, tombstone);
    }
    if (!existing) return false;
    audit.about({ xrayId: existing.id, patientId: existing.patientId });
    // The declared fields as the upload would be checked (a 400 names them), then the one rule.
    const xray = repeatOf(actor, existing, parseTusMetadata(meta), meta.sha256 ?? undefined);
    await audit.success(createdEvent(audit.context(), xray, false).details);
    // Location names the finished upload (or, for an X-ray that came through POST /xrays, the
    // X-ray's own id, which answers HEAD the same way): a tus client that resumes there is done.
    const finished = await tusUploadRepository.findFinalizedFor(pool, xray.id);
    const base = config.http.publicUrl?.replace(/\/$/, '') ?? `${req.protocol}://${req.get('host')}`;
    res
      .status(200)
      .set({
        'Tus-Resumable': '1.0.0',
        Location: `${base}${UPLOAD_PATH}/${finished?.id ?? xray.id}`,
        'Upload-Offset': String(finished?.upload_length ?? xray.cipherSize),
        [UPLOAD_HEADERS.xrayId]: xray.id,
        [UPLOAD_HEADERS.xraySha256]: xray.sha256,
        'Access-Control-Expose-Headers': ['Location', 'Upload-Offset', ...XRAY_HEADERS].join(', '),
      })
      .json(toResource(xray));
    return true;
  }

  function actorOf(req: Request): Actor {
    if (!req.actor) throw new DomainError('unauthenticated', 'Sign in to upload.');
    return req.actor;
  }

  async function create(req: Request, res: Response): Promise<void> {
    const audit = auditOf(req).begin('xray.create');
    const actor = actorOf(req);
    authorize(actor, 'upload.create');
    if (await answerRepeat(req, res, actor, audit)) return;
    slots.take(res, actor.sub);
    await runTus(req, res, { actor, audit, uploadId: NEW, ...(req.device ? { deviceId: req.device.id } : {}) });
  }

  async function resume(req: Request, res: Response, id: string): Promise<void> {
    const action: Action = req.method === 'DELETE' ? 'upload.terminate' : 'upload.continue';
    const audit = auditOf(req).begin(action);
    const actor = actorOf(req);
    authorize(actor, action);
    if (req.method === 'PATCH' && req.headers['content-type'] !== 'application/offset+octet-stream') {
      throw new DomainError(
        'unsupported_media_type',
        'A tus PATCH must have Content-Type: application/offset+octet-stream.',
      );
    }
    const row = (await tusUploadRepository.find(pool, id)) ?? (await tusUploadRepository.standInFor(pool, id));
    // An unknown id and someone else's upload get the same answer; only the audit trail tells them apart.
    if (!row) throw noSuch('upload');
    audit.about({ xrayId: row.xray_id });
    const decision = decide(actor, action, { capturedBy: { sub: row.owner_sub } });
    if (!decision.allowed) throw decision.error;
    if (row.finalized_at) return answerFinished(req, res, row);
    slots.take(res, actor.sub);
    await runTus(req, res, { actor, audit, uploadId: id, xrayId: row.xray_id });
  }

  const noRoute = (req: Request) =>
    new DomainError('not_found', `No route for ${req.method} ${req.path}.`, undefined, { denial: 'path' });
  // Express matched the declared path loosely (any case, any segment, a trailing slash): the door
  // takes exactly `/uploads` and `/uploads/{uuid}`; any other shape is refused, as a denial.
  const atCollection = (handler: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response) =>
    targetOf(req.path)?.upload === null ? handler(req, res) : Promise.reject(noRoute(req));
  const atUpload =
    (handler: (req: Request, res: Response, id: string) => Promise<void>) => (req: Request, res: Response) => {
      const id = targetOf(req.path)?.upload;
      return id ? handler(req, res, id) : Promise.reject(noRoute(req));
    };
  // CORS preflights are answered before this; a plain OPTIONS is tus discovery: no upload is read.
  const capabilities = (req: Request, res: Response) =>
    runTus(req, res, { actor: actorOf(req), audit: auditOf(req), uploadId: NEW });

  const router = Router();
  router.use((req, res, next) => {
    // The metrics' route label (the door judges its paths itself).
    if (isUploadsPath(req.path)) res.locals.route = targetOf(req.path)?.upload ? `${UPLOAD_PATH}/{id}` : UPLOAD_PATH;
    next();
  });
  router.use(
    new RouteTable(uploadOperations)
      .on('getUploadCapabilities', atCollection(capabilities))
      .on('getUploadCapabilitiesForUpload', atUpload(capabilities))
      .on('createUpload', atCollection(create))
      .on('getUploadOffset', atUpload(resume))
      .on('appendUploadChunk', atUpload(resume))
      .on('terminateUpload', atUpload(resume))
      .router(),
  );
  router.use((req, _res, next) => {
    if (!isUploadsPath(req.path)) return next();
    // Another method on one of the door's paths: the app's 405. Any other shape: refused, as a denial.
    if (targetOf(req.path)) return next();
    throw noRoute(req);
  });

  let timer: NodeJS.Timeout | undefined;
  return {
    router,
    cleanupExpired: () => sessions.cleanupExpired(),
    /** Ends a revoked device's unfinished uploads (rows and objects); how many were ended. */
    endDeviceUploads: async (deviceId: string) =>
      sessions.endUploads(await deviceRepository.openUploads(pool, deviceId)),
    startCleaner() {
      timer = setInterval(
        () => void sessions.cleanupExpired().catch((err: unknown) => deps.log.warn({ err }, 'tus cleanup failed')),
        config.tus.cleanupIntervalMs,
      );
      timer.unref();
    },
    stopCleaner() {
      if (timer) clearInterval(timer);
    },
  };
}

export type UploadDoor = Awaited<ReturnType<typeof createUploadDoor>>;
