import {
  VIEWS,
  XrayMetadataInputSchema,
  fieldErrors,
  generateDek,
  type ContentType,
  type DicomTags,
  type IdentityOverrideInput,
  type PatientDecision,
  type Priority,
  type XrayMetadataInput,
} from '@xray/shared';
import { sealMetadata, openMetadata } from '../crypto/metadata.cipher.ts';
import { unwrapWithDeviceKey, wrapWithDeviceKey } from '../crypto/device-key.ts';
import { hashAndEncrypt } from '../crypto/encrypt-file.ts';
import type { EdgeDb } from '../db/edge.db.ts';
import type { CaptureMetadata, CaptureRecord } from '../db/edge.records.ts';
import { uploadFingerprint } from '../sync/upload-fingerprint.ts';
import { CaptureError } from './capture.errors.ts';
import { dicomPrefill } from './dicom-prefill.ts';
import { readHead, type FileHead } from './file-check.ts';
import { decisionSettles, filePatientDiffers, holdMessage } from './patient-check.ts';
import type { SealedAhead } from './seal-ahead.ts';

/** What the paramedic enters; DICOM tags fill what is left empty. */
export interface CaptureInput {
  patientId?: string;
  consultationId?: string;
  /** ISO 8601; now when not given. */
  capturedAt?: string;
  deviceId?: string;
  bodyPart?: string;
  view?: string;
  priority?: Priority;
  notes?: string;
  /** The paramedic's answer to a wrong-patient hold (patient-check.ts); sent as upload metadata. */
  patientDecision?: PatientDecision;
  patientDecisionReason?: string;
  /** Keeping the chosen patient although the file's identity differs (patient-check.ts identityOverrideFor). */
  identityOverride?: IdentityOverrideInput;
}

export interface CaptureOptions {
  /**
   * Check the metadata against the X-ray schema before storing (default). `false` keeps an
   * X-ray whose form is not complete yet: the image is never lost to a form, and the server's
   * refusal later puts it in `needs-attention`, where `updateMetadata` fixes it.
   */
  validate?: boolean;
  /** The file's head as `checkFile` already read it (the capture screen): it is not read again. */
  head?: FileHead;
  /**
   * Stored but not sent: the capture starts in `needs-attention` with this message (an image that
   * arrived with no one at the form, e.g. by DICOM C-STORE, whose patient the paramedic must
   * decide); `updateMetadata` queues it once decided.
   */
  hold?: { code: string; message: string };
  /** This file hashed and encrypted ahead of Save (seal-ahead.ts); ignored if it is another file's or taken. */
  sealed?: SealedAhead;
}

export type CaptureWarningCode = 'patient_id_mismatch' | 'dicom_unreadable';
export interface CaptureWarning {
  code: CaptureWarningCode;
  message: string;
}

export interface CaptureResult {
  id: string;
  sha256: string;
  contentType: ContentType;
  plaintextSize: number;
  ciphertextSize: number;
  metadata: CaptureMetadata;
  warnings: CaptureWarning[];
}

const isView = (v: string | undefined): v is (typeof VIEWS)[number] => VIEWS.some((view) => view === v);

/** A file's real type and (DICOM) its tags, from its head (read here unless the caller has it). */
async function inspect(
  file: Blob,
  known?: FileHead,
): Promise<{ contentType: ContentType; dicom?: DicomTags; warnings: CaptureWarning[] }> {
  const head = known ?? (await readHead(file));
  if (!head) {
    throw new CaptureError('unsupported_type', 'This file is not a DICOM, PNG or JPEG image.');
  }
  const { contentType, dicom, dicomError } = head;
  const warnings: CaptureWarning[] =
    dicomError === undefined
      ? []
      : [{ code: 'dicom_unreadable', message: `The DICOM header could not be read: ${dicomError}` }];
  return { contentType, ...(dicom ? { dicom } : {}), warnings };
}

/**
 * The input with what the DICOM file fills in (dicom-prefill.ts), and the wrong-patient warning
 * when the file names another patient and no decision settles it (patient-check.ts's rules).
 */
function prefill(
  input: CaptureInput,
  dicom: DicomTags | undefined,
  now: number,
): { xray: Record<string, string | undefined>; warnings: CaptureWarning[] } {
  const differs = filePatientDiffers(input.patientId ?? '', dicom?.patientId);
  const decision = input.patientDecision && { choice: input.patientDecision, reason: input.patientDecisionReason };
  const warnings: CaptureWarning[] =
    differs && !decisionSettles({ holds: [differs] }, decision)
      ? [{ code: 'patient_id_mismatch', message: `${holdMessage(differs)} Check the patient before it is sent.` }]
      : [];
  return {
    xray: {
      patientId: input.patientId,
      consultationId: input.consultationId,
      capturedAt: input.capturedAt ?? new Date(now).toISOString(),
      deviceId: input.deviceId,
      bodyPart: input.bodyPart,
      view: input.view,
      notes: input.notes,
      patientDecision: input.patientDecision,
      patientDecisionReason: input.patientDecisionReason,
      ...dicomPrefill(input, dicom),
    },
    warnings,
  };
}

/** Validated and normalised (trimmed, upper-cased) X-ray fields, or the raw ones when not validating. */
function checkXray(
  xray: Record<string, string | undefined>,
  priority: Priority,
  validate: boolean,
  identityOverride?: IdentityOverrideInput,
): CaptureMetadata['xray'] {
  const defined = Object.fromEntries(Object.entries(xray).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = XrayMetadataInputSchema.safeParse({
    ...defined,
    priority,
    ...(identityOverride ? { identityOverride } : {}),
  });
  if (parsed.success) {
    const { id: _id, sha256: _sha, priority: _p, ...rest } = parsed.data;
    return rest;
  }
  if (validate) {
    throw new CaptureError(
      'invalid_metadata',
      'The X-ray details are incomplete or invalid.',
      fieldErrors(parsed.error),
    );
  }
  // Kept as entered; the server's answer will say what to fix.
  return {
    patientId: defined.patientId ?? '',
    capturedAt: defined.capturedAt ?? '',
    bodyPart: defined.bodyPart ?? '',
    view: isView(defined.view) ? defined.view : 'OTHER',
    ...(defined.consultationId ? { consultationId: defined.consultationId } : {}),
    ...(defined.deviceId ? { deviceId: defined.deviceId } : {}),
    ...(defined.notes ? { notes: defined.notes } : {}),
  };
}

export interface CaptureServiceDeps {
  db: EdgeDb;
  /** Called once a capture is stored (the sync engine wakes up). */
  onStored?: (id: string) => void;
}

export function createCaptureService({ db, onStored }: CaptureServiceDeps) {
  /**
   * Encrypts and stores an X-ray. All the slow work (reading, hashing, encrypting, wrapping)
   * happens first; then one Dexie transaction (strict durability) writes the record and the
   * ciphertext together. When the promise resolves the capture is on disk, so the screen may say
   * "queued" then and not before; no network is ever needed.
   */
  async function capture(file: Blob, input: CaptureInput = {}, opts: CaptureOptions = {}): Promise<CaptureResult> {
    const now = Date.now();
    const { contentType, dicom, warnings: inspectWarnings } = await inspect(file, opts.head);
    const { xray, warnings } = prefill(input, dicom, now);
    const priority = input.priority ?? 'routine';
    const metadata: CaptureMetadata = {
      xray: checkXray(xray, priority, opts.validate ?? true, input.identityOverride),
      ...(dicom ? { dicom } : {}),
      ...(file instanceof File && file.name ? { fileName: file.name } : {}),
    };

    const sealed = opts.sealed?.file === file ? opts.sealed.take() : undefined;
    const dek = sealed ? await sealed.dek : await generateDek();
    // The key wrap and the metadata need only the DEK: done while the file is hashed and encrypted
    // (or its sealing ahead finishes; a failed one is done again here, as it would have been).
    const [encrypted, { wrapped, keyId }, encryptedMetadata] = await Promise.all([
      sealed ? sealed.encrypted.catch(() => hashAndEncrypt(file, dek)) : hashAndEncrypt(file, dek),
      wrapWithDeviceKey(db, dek),
      sealMetadata(dek, metadata),
    ]);

    const record: CaptureRecord = {
      id: crypto.randomUUID(),
      status: opts.hold ? 'needs-attention' : 'queued',
      priority,
      createdAt: now,
      updatedAt: Date.now(),
      contentType,
      plaintextSize: encrypted.plaintextSize,
      ciphertextSize: encrypted.ciphertext.size,
      sha256: encrypted.sha256,
      wrappedDek: wrapped,
      keyId,
      encryptedMetadata,
      attempts: 0,
      ...(opts.hold ? { lastError: { ...opts.hold, at: now } } : {}),
    };
    await db.transaction('rw', db.captures, db.blobs, async () => {
      await db.captures.add(record);
      await db.blobs.add({ captureId: record.id, ciphertext: encrypted.ciphertext });
    });
    onStored?.(record.id);
    return {
      id: record.id,
      sha256: record.sha256,
      contentType,
      plaintextSize: record.plaintextSize,
      ciphertextSize: record.ciphertextSize,
      metadata,
      warnings: [...inspectWarnings, ...warnings],
    };
  }

  /** Decrypts a capture's metadata (for the UI, and for the upload). */
  async function readMetadata(id: string): Promise<CaptureMetadata> {
    const record = await db.captures.get(id);
    if (!record) throw new CaptureError('not_found', `No capture ${id}.`);
    const dek = await unwrapWithDeviceKey(db, record.wrappedDek, record.keyId);
    return openMetadata(dek, record.encryptedMetadata);
  }

  /**
   * Corrects the metadata of a capture that has not been sent yet or that the server refused
   * (`needs-attention`): the new fields are validated, sealed, and the capture is queued again.
   */
  async function updateMetadata(id: string, changes: CaptureInput): Promise<CaptureMetadata> {
    const record = await db.captures.get(id);
    if (!record) throw new CaptureError('not_found', `No capture ${id}.`);
    if (record.status !== 'needs-attention' && record.status !== 'queued' && record.status !== 'retrying') {
      throw new CaptureError('not_editable', `A capture that is ${record.status} cannot be changed on the device.`);
    }
    const dek = await unwrapWithDeviceKey(db, record.wrappedDek, record.keyId);
    const current = await openMetadata(dek, record.encryptedMetadata);
    const priority = changes.priority ?? record.priority;
    const { identityOverride: currentOverride, ...currentFields } = current.xray;
    const merged: Record<string, string | undefined> = { ...currentFields, ...definedOnly(changes) };
    delete merged.priority;
    let identityOverride = currentOverride;
    // A patient decision is about the patient it was made for: another patient needs its own.
    if (
      changes.patientId !== undefined &&
      changes.patientId.trim() !== (current.xray.patientId ?? '').trim() &&
      changes.patientDecision === undefined
    ) {
      delete merged.patientDecision;
      delete merged.patientDecisionReason;
      identityOverride = undefined;
    }
    // A new decision comes whole: its reason (or none) and its override (or none) replace the previous one's.
    if (changes.patientDecision !== undefined) {
      merged.patientDecisionReason = changes.patientDecisionReason;
      identityOverride = changes.identityOverride;
    }
    const metadata: CaptureMetadata = { ...current, xray: checkXray(merged, priority, true, identityOverride) };
    const encryptedMetadata = await sealMetadata(dek, metadata);
    await db.transaction('rw', db.captures, db.uploads, async () => {
      const latest = await db.captures.get(id);
      if (!latest || latest.status === 'uploading' || latest.status === 'verifying' || latest.status === 'synced') {
        throw new CaptureError('not_editable', 'The capture started uploading meanwhile; try again.');
      }
      await db.captures.update(id, {
        encryptedMetadata,
        priority,
        status: 'queued',
        attempts: 0,
        nextAttemptAt: undefined,
        lastError: undefined,
        updatedAt: Date.now(),
      });
      // A server-side upload made with the old metadata must not be resumed: start afresh.
      await db.uploads.where('fingerprint').equals(uploadFingerprint(id)).delete();
    });
    onStored?.(id);
    return metadata;
  }

  return { capture, readMetadata, updateMetadata };
}

function definedOnly(input: CaptureInput): Partial<Record<keyof CaptureInput, string>> {
  const { identityOverride: _override, ...fields } = input;
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
}

export type CaptureService = ReturnType<typeof createCaptureService>;
export type { XrayMetadataInput };
