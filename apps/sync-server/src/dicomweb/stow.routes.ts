import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { Request, RequestHandler } from 'express';
import {
  DICOM_HEADER_PREFIX_BYTES,
  DICOM_MAX_HEADER_BYTES,
  DicomParseError,
  loadDicomReader,
  type DicomHeader,
  type DicomReader,
} from '@xray/shared';
import { auditOf } from '../audit/audit.http.ts';
import { recordAudit, type AuditContext } from '../audit/audit.service.ts';
import type { Actor } from '../auth/actor.ts';
import { actorOf } from '../auth/authenticate.middleware.ts';
import { authorize } from '../auth/policy.ts';
import type { Pool } from '../db/pool.ts';
import { DomainError, ERRORS, isDomainError } from '../errors.ts';
import { tooLarge } from '../ingest/content-inspector.ts';
import { createdEvent } from '../ingest/finalize.ts';
import { ingestStream } from '../ingest/ingest.service.ts';
import { xrayRepository, type XrayRecord } from '../xrays/xray.repository.ts';
import { dicomJsonTypeFor } from './dicomweb.accept.ts';
import type { DicomwebRouteTable, DicomwebRoutesDeps } from './dicomweb.routes.ts';
import { firstXrayUnder } from './sop-uid-holder.ts';
import { stowMetadataOf, type StowSop } from './stow.metadata.ts';
import { MalformedMultipart, stowParts, type StowPart } from './stow.multipart.ts';
import { FAILURE_REASON, failureReasonOf, stowAnswer, type FailureReason, type StowOutcome } from './stow.response.ts';

/**
 * STOW-RS (PS3.18 10.5): `POST /dicom-web/studies[/{study}]` with `multipart/related;
 * type="application/dicom"`. Each part is one instance, streamed into the same ingest as
 * `POST /xrays` (inspection, encryption at rest, links, outbox, audit in one transaction) with
 * metadata read from its own header (stow.metadata.ts). Instances are stored one after the other;
 * each is audited on its own (`xray.create`, success or failure) and answered on its own in the
 * response module (stow.response.ts).
 */

/** Instances in one request, at most. */
const MAX_PARTS = 1000;

const UID = /^[0-9]+(\.[0-9]+)*$/;

/** `multipart/related` with `type="application/dicom"` (or no type); anything else is 415. */
function assertStowContentType(req: Request): void {
  const header = req.headers['content-type'] ?? '';
  const [media = '', ...params] = header.split(';').map((s) => s.trim());
  const type = params
    .map((p) => /^type\s*=\s*"?([^";]*)"?$/i.exec(p)?.[1]?.trim().toLowerCase())
    .find((t) => t !== undefined);
  if (media.toLowerCase() !== 'multipart/related' || (type !== undefined && type !== 'application/dicom'))
    throw new DomainError(
      'unsupported_media_type',
      'Send the instances as multipart/related; type="application/dicom" (one DICOM Part 10 file per part). The metadata and bulk data form (application/dicom+json) is not taken.',
    );
}

/** Where the retrieve URLs start: PUBLIC_URL, else this request's own origin. */
const originOf = (req: Request, publicUrl: string | undefined): string =>
  publicUrl ?? `${req.protocol}://${req.get('host') ?? 'localhost'}`;

/**
 * An X-ray already stored with this SOP Instance UID under another id (by POST /xrays or tus,
 * whose ids are the client's), from the DICOMweb instance index: the one DICOMweb serves under the
 * UID (sop-uid-holder.ts), so "stored already" names an instance its RetrieveURL serves. Instances
 * stored by STOW-RS are found by their derived id.
 */
async function storedWithSopInstanceUid(pool: Pool, sopInstanceUid: string): Promise<XrayRecord | null> {
  const { rows } = await pool.query<{ id: string | null }>(`SELECT ${firstXrayUnder('$1')} AS id`, [sopInstanceUid]);
  return rows[0]?.id ? xrayRepository.findById(pool, rows[0].id) : null;
}

/** The plaintext SHA-256 of a part, read to its end (nothing stored); no more than `maxBytes` of it. */
async function sha256Of(part: StowPart, maxBytes: number): Promise<string> {
  const hash = createHash('sha256');
  let size = 0;
  await pipeline(part.body, async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) {
      size += chunk.length;
      if (size > maxBytes) throw tooLarge(maxBytes);
      hash.update(chunk);
    }
  });
  return hash.digest('hex');
}

/** A refusal of the whole request (the framing broke, the client left, the database or store is down). */
const abortsRequest = (err: unknown): boolean =>
  err instanceof MalformedMultipart ||
  (isDomainError(err) && (err.code === 'client_closed' || err.code === 'unavailable' || err.code === 'storage_failed'));

export function mountStow(routes: DicomwebRouteTable, deps: DicomwebRoutesDeps): void {
  const { pool } = deps;

  /** The audit event of one instance that was not stored (as the problem handler writes one for POST /xrays). */
  async function auditRefusal(
    context: AuditContext,
    target: { xrayId?: string; patientId?: string },
    sop: Partial<StowSop>,
    reason: FailureReason,
    err: { code: string; message: string; denial?: string | undefined; auditDetails?: Record<string, unknown> },
  ): Promise<void> {
    const status = err.code in ERRORS ? ERRORS[err.code as keyof typeof ERRORS].status : 400;
    const common = {
      door: 'stow-rs',
      sopInstanceUid: sop.sopInstanceUid ?? null,
      failureReason: reason,
      error: err.code,
      status,
      reason: err.message,
      ...(err.denial ? { denial: err.denial } : {}),
      ...err.auditDetails,
    };
    await recordAudit(pool, {
      context,
      action: err.denial ? 'access.denied' : 'xray.create',
      outcome: err.denial ? 'denied' : 'failed',
      xrayId: target.xrayId ?? null,
      patientId: target.patientId ?? null,
      details: err.denial ? { attempted: 'xray.create', ...common } : common,
    });
  }

  /** One part: stored, recognised as stored already, or refused with its Failure Reason. Never throws for the instance's own faults. */
  async function storeInstance(
    part: StowPart,
    actor: Actor,
    context: AuditContext,
    study: string | undefined,
    dicom: DicomReader,
  ): Promise<StowOutcome> {
    const refuse = async (
      sop: Partial<StowSop>,
      reason: FailureReason,
      err: { code: string; message: string; denial?: string },
      target: { xrayId?: string; patientId?: string } = {},
    ): Promise<StowOutcome> => {
      part.discard();
      await auditRefusal(context, target, sop, reason, err);
      return { sop, failed: { reason, message: err.message } };
    };

    if (part.mediaType !== '' && part.mediaType !== 'application/dicom')
      return refuse({}, FAILURE_REASON.cannotUnderstand, {
        code: 'unsupported_media_type',
        message: `The part is ${part.mediaType}, not application/dicom.`,
      });
    let header;
    try {
      // Read already when the part's head was not read on; else a copy with its own ArrayBuffer
      // (a small Buffer is a view into Node's shared pool).
      header = headersRead.get(part.head) ?? dicom.readDicomHeader(new Uint8Array(part.head));
    } catch (err) {
      if (!(err instanceof DicomParseError)) throw err;
      return refuse({}, FAILURE_REASON.cannotUnderstand, {
        code: 'unsupported_media_type',
        message: `The part is not a DICOM Part 10 file (${err.message}).`,
      });
    }
    const rules = stowMetadataOf(header.dataset, deps.ingest.captureTimeMaxSkewMs);
    if (!rules.ok)
      return refuse(rules.sop, FAILURE_REASON.dataSetMismatch, { code: 'validation_failed', message: rules.message });
    const { sop, metadata } = rules;
    const target = { xrayId: metadata.id, patientId: metadata.patientId };
    if (study !== undefined && sop.studyInstanceUid !== study)
      return refuse(
        sop,
        FAILURE_REASON.dataSetMismatch,
        {
          code: 'validation_failed',
          message: `The instance belongs to study ${sop.studyInstanceUid}, not to the study ${study} the request is for.`,
        },
        target,
      );

    try {
      // Stored before by another door (its own id): the same bytes are that X-ray, other bytes a duplicate UID.
      const earlier = await storedWithSopInstanceUid(pool, sop.sopInstanceUid);
      if (earlier && earlier.id !== metadata.id) {
        const sha256 = await sha256Of(part, deps.ingest.maxUploadBytes);
        // As the repeat rule answers a replay: only the same user's same bytes are "stored already".
        const theirs = earlier.capturedBy.sub !== actor.sub;
        if (sha256 !== earlier.sha256 || theirs)
          return await refuse(
            sop,
            FAILURE_REASON.duplicate,
            {
              code: 'conflict',
              message: 'Another instance with this SOP Instance UID is stored; nothing was stored.',
              ...(theirs ? { denial: 'not_owner' } : {}),
            },
            { xrayId: earlier.id, patientId: earlier.patientId },
          );
        await recordAudit(pool, createdEvent(context, earlier, false));
        return { sop, stored: { xrayId: earlier.id, repeat: true } };
      }
      const { xray, created } = await ingestStream(deps.ingest, { metadata, actor, body: part.body, context });
      return { sop, stored: { xrayId: xray.id, repeat: !created } };
    } catch (err) {
      if (abortsRequest(err) || !isDomainError(err)) throw err;
      return refuse(sop, failureReasonOf(err.code), err, target);
    }
  }

  const store: RequestHandler<{ study?: string }> = async (req, res) => {
    const audit = auditOf(req).begin('xray.create');
    const actor = actorOf(req);
    authorize(actor, 'xray.create');
    const study = req.params.study;
    if (study !== undefined && (study.length > 64 || !UID.test(study)))
      throw new DomainError('validation_failed', 'The study in the path is not a UID.', [
        { field: 'study', message: 'must be a DICOM UID (digits and dots, at most 64 characters)' },
      ]);
    assertStowContentType(req);
    // The response is DICOM JSON (as application/json when asked for): negotiated before any byte is stored.
    const responseType = dicomJsonTypeFor(req.headers.accept);
    // dcmjs, loaded with the first DICOM file the server reads (not at start).
    const dicom = await loadDicomReader();

    const context = audit.context();
    const outcomes: StowOutcome[] = [];
    try {
      for await (const part of stowParts(req, {
        headBytes: DICOM_HEADER_PREFIX_BYTES,
        maxParts: MAX_PARTS,
        readsOn: { upTo: DICOM_MAX_HEADER_BYTES, needsMore: (head) => headerGoesOn(head, dicom) },
      }))
        outcomes.push(await storeInstance(part, actor, context, study, dicom));
    } catch (err) {
      // The framing broke after instances were stored (audited, announced): a 400 would read as
      // "nothing stored", so the answer lists them, and the rest of the body as one failure.
      if (!(err instanceof MalformedMultipart) || !outcomes.some((o) => 'stored' in o)) throw err;
      await auditRefusal(context, {}, {}, FAILURE_REASON.cannotUnderstand, err);
      outcomes.push({ sop: {}, failed: { reason: FAILURE_REASON.cannotUnderstand, message: err.message } });
    }
    if (outcomes.length === 0) throw new MalformedMultipart('it holds no part.');
    // Each instance left its own event (with its X-ray's transaction, or as a refusal).
    audit.recordedInTransaction();

    const answer = stowAnswer(outcomes, originOf(req, deps.publicUrl), study);
    for (const w of answer.warnings) res.append('Warning', w);
    res.status(answer.status).type(responseType).send(JSON.stringify(answer.body));
  };

  routes.on('storeInstances', store).on('storeStudyInstances', store);
}

/** The headers headerGoesOn read, by the head they were read from: a head that is not read on is not parsed again. */
const headersRead = new WeakMap<Buffer, DicomHeader>();

/**
 * Whether a part's first bytes end before its pixel data: the patient tags may come later, so
 * the header is read on (to DICOM_MAX_HEADER_BYTES; ingest refuses a longer one). Not DICOM: no.
 */
function headerGoesOn(head: Buffer, dicom: DicomReader): boolean {
  try {
    const header = dicom.readDicomHeader(new Uint8Array(head));
    headersRead.set(head, header);
    return !header.complete;
  } catch {
    return false;
  }
}
