import { Readable } from 'node:stream';
import { z } from 'zod';
import { IdentitySchema, type Identity } from '@xray/shared';
import type { DekBinding } from '../keys/dek-wrap.ts';
import type { KeyService } from '../keys/key.service.ts';
import type { ObjectStore } from '../storage/index.ts';
import type { XrayRecord } from './xray.repository.ts';

/**
 * What lets a stored object outlive the loss of its row (a restore from a database backup older
 * than the bucket). Beside every X-ray object `xrays/<id>/<object>` the store holds:
 *
 * - `<object>.record`: the recovery record, the row as it is now (wrapped data key included),
 *   sealed with AES-256-GCM under the KEK the data key is wrapped with, bound to the X-ray id and
 *   object key (keys/dek-wrap.ts, recordAad). Written before the row commits (finalize, PATCH,
 *   rotate-kek), so a committed row always has a record at least as new as itself; removed with
 *   the object. `xray-admin recover` rebuilds a missing row from it.
 * - `<object>.deleted`: the tombstone of a deleted X-ray, kept for good: it is how `recover` knows
 *   of a deletion the restored database (and its audit trail) never saw. No patient data: ids,
 *   hash, when and by whom. Written `pending` before the delete's transaction and rewritten
 *   `committed` once it commits (before the object is erased), so that a delete cut off before its
 *   COMMIT (a crash) does not erase the X-ray later: `recover` re-applies a pending tombstone only
 *   when the delete evidently committed (see xray-recovery.ts, deletionState). Sealed like a
 *   record (under the current KEK, bound to the X-ray id and the tombstone's own key, so neither a
 *   record nor another X-ray's tombstone passes for it): someone with write access to the bucket
 *   alone cannot plant one that makes `recover` erase a live X-ray's row as an audited deletion.
 */
export const RECORD_SUFFIX = '.record';

/** The identity of a row recovered from a record written before identity was checked. */
const NOT_CHECKED: Identity = { status: 'unknown', fields: [], compared: [], reason: 'not_checked', overridden: false };
export const TOMBSTONE_SUFFIX = '.deleted';
export const XRAYS_PREFIX = 'xrays/';

export const recordKeyOf = (objectKey: string): string => `${objectKey}${RECORD_SUFFIX}`;
export const tombstoneKeyOf = (objectKey: string): string => `${objectKey}${TOMBSTONE_SUFFIX}`;

/** What a key under xrays/ holds, and the object it belongs to. */
export function classifyKey(key: string): { kind: 'object' | 'record' | 'tombstone'; objectKey: string } {
  if (key.endsWith(RECORD_SUFFIX)) return { kind: 'record', objectKey: key.slice(0, -RECORD_SUFFIX.length) };
  if (key.endsWith(TOMBSTONE_SUFFIX)) return { kind: 'tombstone', objectKey: key.slice(0, -TOMBSTONE_SUFFIX.length) };
  return { kind: 'object', objectKey: key };
}

/** The X-ray id an object key names (`xrays/<id>/…`), or null. */
export function xrayIdOf(objectKey: string): string | null {
  const m = /^xrays\/([0-9a-f-]{36})\/[^/]+$/.exec(objectKey);
  return m?.[1] ?? null;
}

/**
 * A row as a recovery record holds it (no previous wrap: a recovered row is on one KEK; no change
 * number: a recovered row is numbered anew).
 */
export type RecoveredXray = Omit<XrayRecord, 'previousWrap' | 'changeSeq' | 'dicomUidConflict'>;

const RowSchema = z.object({
  id: z.string(),
  patientId: z.string(),
  consultationId: z.string().nullable(),
  capturedAt: z.string(),
  capturedBy: z.object({ sub: z.string(), name: z.string().nullable() }),
  deviceId: z.string().nullable(),
  bodyPart: z.string(),
  view: z.string(),
  priority: z.string(),
  notes: z.string().nullable(),
  contentType: z.string(),
  sizeBytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  dicom: z.unknown(),
  link: z.unknown(),
  /** Absent from records written before identity was checked at ingest. */
  identity: z.unknown().optional(),
  objectKey: z.string(),
  uploadedAt: z.string(),
  dekWrapped: z.string(),
  kekId: z.string(),
  cipherSize: z.number().int().nonnegative(),
});

/** What is stored: the KEK id in clear (so `check` can tell which KEKs `recover` needs) and the sealed JSON. */
const envelopeSchema = <F extends string>(format: F) =>
  z.object({ format: z.literal(format), v: z.literal(1), kekId: z.string().min(1), sealed: z.string().min(1) });
type Envelope = z.infer<ReturnType<typeof envelopeSchema>>;
const RECORD_FORMAT = 'xray-record';
const TOMBSTONE_FORMAT = 'xray-tombstone';
const EnvelopeSchema = envelopeSchema(RECORD_FORMAT);
const TombstoneEnvelopeSchema = envelopeSchema(TOMBSTONE_FORMAT);

const TombstoneSchema = z.object({
  format: z.literal(TOMBSTONE_FORMAT),
  v: z.literal(1),
  xrayId: z.string(),
  objectKey: z.string(),
  sha256: z.string(),
  deletedAt: z.string(),
  deletedBy: z.string().nullable(),
  /** pending: written before the delete's transaction; committed: after it committed. */
  state: z.enum(['pending', 'committed']),
});
export type Tombstone = z.infer<typeof TombstoneSchema>;

export class RecordInvalidError extends Error {
  override name = 'RecordInvalidError';
}

/** The text stored at `key`, or null when there is none (one GET: a missing key is ObjectNotFoundError). */
async function readText(store: ObjectStore, key: string): Promise<string | null> {
  const chunks: Buffer[] = [];
  try {
    for await (const c of await store.get(key)) chunks.push(Buffer.from(c as Uint8Array));
  } catch (err) {
    if ((err as Error).name === 'ObjectNotFoundError') return null;
    throw err;
  }
  return Buffer.concat(chunks).toString('utf8');
}

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

/** Seals `value` (JSON) for `binding` under KEK `kekId` (default: the current one) and stores its envelope at `key`. */
async function putSealed(
  store: ObjectStore,
  keys: KeyService,
  key: string,
  format: string,
  value: unknown,
  binding: DekBinding,
  kekId?: string,
): Promise<void> {
  const plaintext = Buffer.from(JSON.stringify(value), 'utf8');
  const sealed = await keys.sealRecord(plaintext, binding, kekId);
  const envelope = { format, v: 1, kekId: sealed.kekId, sealed: Buffer.from(sealed.sealed).toString('base64') };
  await store.put(key, Readable.from([Buffer.from(JSON.stringify(envelope), 'utf8')]));
}

/**
 * The envelope stored at `key` beside the object at `objectKey`, with the X-ray id that key names;
 * null when there is none. `invalid`: the message when what is stored is not such an envelope.
 */
async function readEnvelope(
  store: ObjectStore,
  objectKey: string,
  key: string,
  schema: z.ZodType<Envelope>,
  invalid: string,
): Promise<{ xrayId: string; envelope: Envelope } | null> {
  const xrayId = xrayIdOf(objectKey);
  if (!xrayId) throw new RecordInvalidError(`${objectKey} is not an X-ray object key`);
  const text = await readText(store, key);
  if (text === null) return null;
  const envelope = schema.safeParse(parseJson(text));
  if (!envelope.success) throw new RecordInvalidError(invalid);
  return { xrayId, envelope: envelope.data };
}

const recordEnvelope = (store: ObjectStore, objectKey: string) =>
  readEnvelope(
    store,
    objectKey,
    recordKeyOf(objectKey),
    EnvelopeSchema,
    `the recovery record of ${objectKey} is not a record`,
  );

/** The row's fields as the record holds them (JSON). */
function rowJson(x: RecoveredXray): z.infer<typeof RowSchema> {
  return {
    id: x.id,
    patientId: x.patientId,
    consultationId: x.consultationId,
    capturedAt: x.capturedAt,
    capturedBy: x.capturedBy,
    deviceId: x.deviceId,
    bodyPart: x.bodyPart,
    view: x.view,
    priority: x.priority,
    notes: x.notes,
    contentType: x.contentType,
    sizeBytes: x.sizeBytes,
    sha256: x.sha256,
    dicom: x.dicom,
    link: x.link,
    identity: x.identity,
    objectKey: x.objectKey,
    uploadedAt: x.uploadedAt,
    dekWrapped: Buffer.from(x.dekWrapped).toString('base64'),
    kekId: x.kekId,
    cipherSize: x.cipherSize,
  };
}

/**
 * Writes (or replaces) the recovery record of X-ray `x`, sealed under the KEK its data key is
 * wrapped with. One small PUT (about 1 KB).
 */
export async function writeRecord(store: ObjectStore, keys: KeyService, x: RecoveredXray): Promise<void> {
  const binding = { xrayId: x.id, objectKey: x.objectKey };
  await putSealed(store, keys, recordKeyOf(x.objectKey), RECORD_FORMAT, { v: 1, row: rowJson(x) }, binding, x.kekId);
}

/** The KEK a stored record is sealed under, without opening it (null: no record). */
export async function recordKekOf(store: ObjectStore, objectKey: string): Promise<string | null> {
  return (await recordEnvelope(store, objectKey))?.envelope.kekId ?? null;
}

/**
 * The recovery record of the object at `objectKey`, opened and checked (it must name this very
 * X-ray and object), or null when there is none. Throws RecordInvalidError or the key service's
 * integrity_failed DomainError when it does not open.
 */
export async function readRecord(
  store: ObjectStore,
  keys: KeyService,
  objectKey: string,
): Promise<RecoveredXray | null> {
  const found = await recordEnvelope(store, objectKey);
  if (!found) return null;
  const { xrayId, envelope } = found;
  const plain = await keys.openRecord(Buffer.from(envelope.sealed, 'base64'), envelope.kekId, {
    xrayId,
    objectKey,
  });
  const parsed = z
    .object({ v: z.literal(1), row: RowSchema })
    .safeParse(parseJson(Buffer.from(plain).toString('utf8')));
  if (!parsed.success) throw new RecordInvalidError(`the recovery record of ${objectKey} opens but holds no row`);
  const r = parsed.data.row;
  if (r.id !== xrayId || r.objectKey !== objectKey || r.kekId !== envelope.kekId)
    throw new RecordInvalidError(`the recovery record of ${objectKey} names another X-ray, object or KEK`);
  return {
    ...(r as Omit<typeof r, 'dekWrapped' | 'dicom' | 'link' | 'identity'> &
      Pick<XrayRecord, 'priority' | 'contentType'>),
    dicom: r.dicom as XrayRecord['dicom'],
    link: r.link as XrayRecord['link'],
    identity: IdentitySchema.safeParse(r.identity).data ?? NOT_CHECKED,
    dekWrapped: new Uint8Array(Buffer.from(r.dekWrapped, 'base64')),
  };
}

/**
 * The fields where a record and a row differ (empty: the record is current). Not the link nor the
 * identity check: the Patient Service check settles them later without rewriting the record (a
 * recovered row takes the record's, and a pending one is checked again).
 */
export function recordDiffers(record: RecoveredXray, row: XrayRecord): string[] {
  const a = rowJson(record);
  const b = rowJson(row);
  return (Object.keys(a) as (keyof typeof a)[]).filter(
    (k) => k !== 'link' && k !== 'identity' && JSON.stringify(a[k]) !== JSON.stringify(b[k]),
  );
}

/** What a tombstone's seal binds it to: its X-ray and its own key (not the object's, as a record's). */
const tombstoneBinding = (xrayId: string, objectKey: string) => ({ xrayId, objectKey: tombstoneKeyOf(objectKey) });

/** Writes (or replaces) the sealed tombstone of `x`'s object. One small PUT. */
export async function writeTombstone(
  store: ObjectStore,
  keys: KeyService,
  x: Pick<XrayRecord, 'id' | 'objectKey' | 'sha256'>,
  deletedBy: string | null,
  state: Tombstone['state'],
): Promise<void> {
  const t: Tombstone = {
    format: TOMBSTONE_FORMAT,
    v: 1,
    xrayId: x.id,
    objectKey: x.objectKey,
    sha256: x.sha256,
    deletedAt: new Date().toISOString(),
    deletedBy,
    state,
  };
  await putSealed(store, keys, tombstoneKeyOf(x.objectKey), TOMBSTONE_FORMAT, t, tombstoneBinding(x.id, x.objectKey));
}

/**
 * The tombstone of the object at `objectKey`, opened and checked, or null; throws RecordInvalidError
 * when it is not a sealed tombstone of that object (forged, altered, copied from elsewhere, or
 * sealed under a KEK not configured).
 */
export async function readTombstone(
  store: ObjectStore,
  keys: KeyService,
  objectKey: string,
): Promise<Tombstone | null> {
  const found = await readEnvelope(
    store,
    objectKey,
    tombstoneKeyOf(objectKey),
    TombstoneEnvelopeSchema,
    `the tombstone of ${objectKey} is not a sealed tombstone (forged or altered?)`,
  );
  if (!found) return null;
  const { xrayId, envelope } = found;
  let plain: Uint8Array;
  try {
    plain = await keys.openRecord(
      Buffer.from(envelope.sealed, 'base64'),
      envelope.kekId,
      tombstoneBinding(xrayId, objectKey),
    );
  } catch (err) {
    throw new RecordInvalidError(
      `the tombstone of ${objectKey} does not open under KEK ${envelope.kekId} (forged, altered, copied from another object, or its KEK is not configured)`,
      { cause: err },
    );
  }
  const t = TombstoneSchema.safeParse(parseJson(Buffer.from(plain).toString('utf8')));
  if (!t.success || t.data.objectKey !== objectKey || t.data.xrayId !== xrayId)
    throw new RecordInvalidError(`the tombstone of ${objectKey} is not a tombstone of that object`);
  return t.data;
}
