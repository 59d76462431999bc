import type {
  EventType,
  XrayDeletedEvent,
  XrayEvent,
  XrayIdentityMismatchEvent,
  XrayEventSubject,
  XrayLinkInvalidEvent,
  XrayUpdatedEvent,
  XrayUploadedEvent,
} from './events.ts';
import {
  XrayDeletedEventSchema,
  XrayIdentityMismatchEventSchema,
  XrayLinkInvalidEventSchema,
  XrayUpdatedEventSchema,
  XrayUploadedEventSchema,
} from './events.ts';

/**
 * One example of each event, as a consumer receives it: the life of one X-ray (uploaded, moved to
 * a patient the Patient Service does not know, whom the file does not name, deleted). Checked against the schemas by a test;
 * the OpenAPI document's `webhooks` and docs/events.md show them.
 */
const XRAY_ID = '3f6c1a52-8d0e-4b7a-9c21-5e4f7a9b0c13';
const BASE = 'https://xray.hospital.example/api';
const links = {
  self: `${BASE}/xrays/${XRAY_ID}`,
  download: `${BASE}/xrays/${XRAY_ID}/download`,
  preview: `${BASE}/xrays/${XRAY_ID}/preview`,
};

const subject: XrayEventSubject = {
  id: XRAY_ID,
  patientId: 'P-1001',
  consultationId: 'C-2001',
  capturedAt: '2026-11-27T08:15:00.000Z',
  capturedBy: { sub: 'paramedic-7', name: 'Sam Ortiz' },
  deviceId: 'AMB-12-tablet',
  bodyPart: 'CHEST',
  view: 'PA',
  priority: 'urgent',
  notes: 'Fall from ladder, pain on the right side.',
  contentType: 'application/dicom',
  sizeBytes: 18_874_786,
  sha256: '9b2f1c4a7e0d3b6c5a8f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b',
  dicom: {
    modality: 'DX',
    bodyPartExamined: 'CHEST',
    viewPosition: 'PA',
    studyDate: '20261127',
    studyInstanceUid: '2.25.118906245931775519474521546716322016401',
    seriesInstanceUid: '2.25.205137411372928395398312475522133453092',
    sopInstanceUid: '2.25.309912270823540716231716451307811839575',
    rows: 3000,
    columns: 3000,
    bitsAllocated: 16,
    transferSyntaxUid: '1.2.840.10008.1.2.1',
  },
  link: { status: 'verified', checkedAt: '2026-11-27T08:31:02.114Z' },
  identity: { status: 'consistent', fields: [], overridden: false },
  dicomUidConflict: false,
  uploadedAt: '2026-11-27T08:31:02.118Z',
  changeSeq: 1041,
};

const uploaded: XrayUploadedEvent = {
  schemaVersion: 2,
  id: '0b8e5d1f-2c3a-4e6b-8f7d-9a1c2b3d4e5f',
  type: 'xray.uploaded',
  occurredAt: '2026-11-27T08:31:02.121Z',
  source: 'xray-sync-server',
  xrayId: XRAY_ID,
  sequence: 1041,
  links,
  data: { xray: subject },
};

const moved: XrayEventSubject = {
  ...subject,
  patientId: 'P-1009',
  consultationId: null,
  notes: 'Fall from ladder, pain on the right side. Patient picked again: the first pick was wrong.',
  link: { status: 'invalid', reason: 'unknown_patient', checkedAt: '2026-11-27T09:02:40.507Z' },
  // The file still names P-1001.
  identity: { status: 'mismatch', fields: ['patientId'], overridden: false },
  changeSeq: 1187,
};

const updated: XrayUpdatedEvent = {
  schemaVersion: 2,
  id: '6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d',
  type: 'xray.updated',
  occurredAt: '2026-11-27T09:02:40.512Z',
  source: 'xray-sync-server',
  xrayId: XRAY_ID,
  sequence: 1187,
  links,
  data: {
    xray: moved,
    changes: {
      patientId: { before: 'P-1001', after: 'P-1009' },
      consultationId: { before: 'C-2001', after: null },
      notes: { before: subject.notes, after: moved.notes },
      link: { before: { status: 'verified' }, after: { status: 'invalid', reason: 'unknown_patient' } },
    },
    cause: 'correction',
    by: { sub: 'paramedic-7' },
  },
};

const linkInvalid: XrayLinkInvalidEvent = {
  schemaVersion: 2,
  id: 'd1e2f3a4-b5c6-4d7e-8f9a-0b1c2d3e4f5a',
  type: 'xray.link_invalid',
  occurredAt: '2026-11-27T09:02:40.512Z',
  source: 'xray-sync-server',
  xrayId: XRAY_ID,
  sequence: 1187,
  links,
  data: { xray: moved, reason: 'unknown_patient' },
};

const identityMismatch: XrayIdentityMismatchEvent = {
  schemaVersion: 2,
  id: 'a9b8c7d6-e5f4-4a3b-9c2d-1e0f9a8b7c6d',
  type: 'xray.identity_mismatch',
  occurredAt: '2026-11-27T09:02:40.512Z',
  source: 'xray-sync-server',
  xrayId: XRAY_ID,
  sequence: 1187,
  links,
  data: { xray: moved, fields: ['patientId'], overridden: false, cause: 'correction' },
};

const deleted: XrayDeletedEvent = {
  schemaVersion: 2,
  id: 'f0e1d2c3-b4a5-4968-8776-655443322110',
  type: 'xray.deleted',
  occurredAt: '2026-11-27T10:45:13.900Z',
  source: 'xray-sync-server',
  xrayId: XRAY_ID,
  sequence: 1203,
  data: {
    xray: { id: XRAY_ID, patientId: 'P-1009', consultationId: null, sha256: subject.sha256 },
    by: { sub: 'admin-2' },
  },
};

export const XRAY_EVENT_EXAMPLES = {
  'xray.uploaded': uploaded,
  'xray.updated': updated,
  'xray.link_invalid': linkInvalid,
  'xray.identity_mismatch': identityMismatch,
  'xray.deleted': deleted,
} as const satisfies { [T in EventType]: Extract<XrayEvent, { type: T }> };

/** Each event type's published schema, by type (the OpenAPI document's `webhooks`, one per type). */
export const XRAY_EVENT_SCHEMAS = {
  'xray.uploaded': XrayUploadedEventSchema,
  'xray.updated': XrayUpdatedEventSchema,
  'xray.link_invalid': XrayLinkInvalidEventSchema,
  'xray.identity_mismatch': XrayIdentityMismatchEventSchema,
  'xray.deleted': XrayDeletedEventSchema,
} as const;
