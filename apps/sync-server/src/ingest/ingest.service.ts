import { randomUUID } from 'node:crypto';
import { pipeline, type Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import {
  fieldErrors,
  generateDek,
  importDek,
  Xre1Error,
  XrayMetadataInputSchema,
  type XrayMetadataInput,
} from '@xray/shared';
import { recordAudit, systemContext, type AuditContext } from '../audit/audit.service.ts';
import type { Actor } from '../auth/actor.ts';
import { DomainError } from '../errors.ts';
import type { Metrics } from '../observability/metrics.ts';
import { xrayChangeRepository } from '../xrays/xray-changes.repository.ts';
import type { KeyService } from '../keys/key.service.ts';
import { inspectStoredObject } from './ciphertext-inspection.ts';
import { ContentInspector, dicomReaderLoader, type InspectedContent } from './content-inspector.ts';
import { encryptNode, rawDekBytes } from '../xre1/index.ts';
import { createdEvent, discardObject, finalizeXray, type FinalizeDeps, type FinalizeResult } from './finalize.ts';
import { assertMayRepeat, repeatOf } from './repeat-rule.ts';
import { refuseDeletedId } from './tombstone-rule.ts';

export interface IngestDeps extends FinalizeDeps {
  metrics: Metrics;
  maxUploadBytes: number;
  /** CAPTURE_TIME_MAX_SKEW_MS: how far ahead of our clock a capturedAt may be. */
  captureTimeMaxSkewMs: number;
  keys: KeyService;
}

/** Validates client metadata; field errors name the offending part (`metadata.<field>`). */
export function parseMetadata(raw: unknown): XrayMetadataInput {
  const parsed = XrayMetadataInputSchema.safeParse(raw);
  if (!parsed.success) {
    throw new DomainError(
      'validation_failed',
      'The X-ray metadata has invalid fields.',
      fieldErrors(parsed.error, 'metadata'),
    );
  }
  return parsed.data;
}

/** A new object key per attempt, so concurrent attempts at one id never overwrite each other. */
export const newObjectKey = (id: string): string => `xrays/${id}/${randomUUID()}`;

/**
 * The REST door: stream a plaintext body into storage while inspecting it, then finalize.
 * Nothing is buffered beyond the header prefix.
 */
export async function ingestStream(
  deps: IngestDeps,
  input: { metadata: XrayMetadataInput; actor: Actor; body: Readable; signal?: AbortSignal; context?: AuditContext },
): Promise<FinalizeResult> {
  const id = input.metadata.id ?? randomUUID();
  // dcmjs for a DICOM header, loaded with the first DICOM (not at start, never for a PNG or JPEG).
  const inspector = new ContentInspector(deps.maxUploadBytes, dicomReaderLoader);
  // pipeline destroys every stage when one fails (client gone, limit hit, unknown type).
  const source = pipeline(input.body, inspector, () => undefined);

  const { xray: existing, tombstone } = await xrayChangeRepository.findForUpload(deps.pool, id);
  if (!existing && tombstone) refuseDeletedId(input.actor, id, tombstone);
  if (existing) {
    // Someone else's X-ray, or other details: refused before a byte is read (the body is discarded).
    assertMayRepeat(input.actor, existing, input.metadata);
    // A repeat of an earlier upload: read it through to compare, store nothing.
    source.resume();
    await finished(source);
    const xray = repeatOf(input.actor, existing, input.metadata, inspector.result().sha256);
    await recordAudit(deps.pool, createdEvent(input.context ?? systemContext(input.actor), xray, false));
    return { xray, created: false };
  }

  const objectKey = newObjectKey(id);
  // Encrypted on the way in: storage only ever holds XRE1 ciphertext.
  const dek = await generateDek();
  let cipherSize: number;
  try {
    ({ size: cipherSize } = await deps.store.put(objectKey, encryptNode(source, dek), input.signal));
  } catch (err) {
    // Our own refusals (size, type, client gone) say what happened; anything else is the store failing.
    if (err instanceof DomainError) throw err;
    throw new DomainError(
      'storage_failed',
      'Object storage failed while receiving the X-ray; nothing was stored. Retry later.',
      undefined,
      { cause: err },
    );
  }
  let content;
  let sealed;
  try {
    content = inspector.result();
    // Bound to this X-ray and this object: the wrap opens for nothing else.
    sealed = await deps.keys.wrapDek(dek, { xrayId: id, objectKey });
  } catch (err) {
    await deps.store.delete(objectKey);
    throw err;
  }
  const { wrapped, kekId } = sealed;
  const result = await finalizeXray(deps, {
    id,
    metadata: input.metadata,
    actor: input.actor,
    objectKey,
    content,
    sealed: { dekWrapped: wrapped, kekId, cipherSize },
    context: input.context,
  });
  if (result.created) {
    deps.metrics.ingested.inc({ door: 'rest' });
    deps.metrics.ingestedBytes.inc({ door: 'rest' }, content.sizeBytes);
  }
  return result;
}

/** A data key as the edge sent it with a tus upload: wrapped for our upload key `kid`. */
export interface UploadedDek {
  wrapped: Uint8Array;
  kid: string;
}

/** What a tus upload's bytes were found to be while they arrived, and under which data key. */
export interface VerifiedOnArrival {
  rawKey: Uint8Array;
  /** What `rawKey` was unwrapped from when the upload began. */
  uploadedDek: UploadedDek;
  content: InspectedContent;
}

/**
 * The tus door: the bytes are already in storage at `objectKey`. Usually they were decrypted
 * and inspected PATCH by PATCH as they were stored (`verified`); otherwise (another instance
 * took some PATCHes, a restart) they are read back through the same inspection. Then finalize.
 * On any failure the object is removed.
 */
export async function ingestStoredObject(
  deps: IngestDeps,
  input: {
    metadata: XrayMetadataInput & { id: string };
    actor: Actor;
    objectKey: string;
    cipherSize: number;
    /** The data key as the edge sent it (in the upload's metadata). */
    uploadedDek: UploadedDek;
    /** The stored bytes as inspected on arrival, when every one of them was. */
    verified?: VerifiedOnArrival;
    /** Resolves once the object's bytes are durable (the X-ray is not committed before). */
    durable?: Promise<void>;
    context?: AuditContext;
  },
): Promise<FinalizeResult> {
  let content;
  let sealed;
  // Raw key bytes handed to us (the arrival verifier's) or exported here: zeroed once used.
  let rawKey: Uint8Array | undefined;
  try {
    // Trusted only for the very data key being recorded: the one in the upload's metadata now.
    // It was unwrapped when the upload began, from these very bytes: no second RSA unwrap.
    const verified =
      input.verified && sameUploadedDek(input.verified.uploadedDek, input.uploadedDek) ? input.verified : undefined;
    let dek: CryptoKey;
    if (verified) {
      rawKey = verified.rawKey;
      dek = await importDek(rawKey);
    } else {
      dek = await deps.keys.unwrapUploadedDek(input.uploadedDek.wrapped, input.uploadedDek.kid);
      rawKey = await rawDekBytes(dek);
    }
    deps.metrics.tusVerifications.inc({ how: verified ? 'on_arrival' : 'read_back' });
    content = verified
      ? verified.content
      : await inspectStoredObject(deps.store, input.objectKey, rawKey, deps.maxUploadBytes);
    // Bound to this X-ray and the object its bytes now live at: the wrap opens for nothing else.
    sealed = await deps.keys.wrapDek(dek, { xrayId: input.metadata.id, objectKey: input.objectKey });
  } catch (err) {
    await discardObject(deps, input.metadata.id, input.objectKey).catch(() => undefined);
    if (err instanceof DomainError) throw err;
    if (err instanceof Xre1Error) {
      throw new DomainError(
        'ciphertext_invalid',
        `The upload is not intact XRE1 ciphertext for its data key (${err.code}): ${err.message}. Nothing was stored.`,
        undefined,
        { cause: err },
      );
    }
    throw new DomainError('storage_failed', 'The uploaded X-ray could not be read back for verification.', undefined, {
      cause: err,
    });
  } finally {
    rawKey?.fill(0);
    // The verifier's copy, when it was handed over but not used (another data key is recorded).
    if (input.verified && input.verified.rawKey !== rawKey) input.verified.rawKey.fill(0);
  }
  const { wrapped, kekId } = sealed;
  const result = await finalizeXray(deps, {
    id: input.metadata.id,
    metadata: input.metadata,
    actor: input.actor,
    objectKey: input.objectKey,
    content,
    sealed: { dekWrapped: wrapped, kekId, cipherSize: input.cipherSize },
    ...(input.durable ? { durable: input.durable } : {}),
    context: input.context,
  });
  if (result.created) {
    deps.metrics.ingested.inc({ door: 'tus' });
    deps.metrics.ingestedBytes.inc({ door: 'tus' }, content.sizeBytes);
  }
  return result;
}

/** Wrapped keys are not secret: a plain comparison will do. */
const sameUploadedDek = (a: UploadedDek, b: UploadedDek): boolean =>
  a.kid === b.kid && Buffer.from(a.wrapped).equals(Buffer.from(b.wrapped));
