import type { CaptureStatus } from '../db/edge.records.ts';

export { formatBytes } from '../capture/file-check.ts';

/** 08:15:02, in the device's time zone: what a paramedic compares with the clock on the wall. */
export const formatTime = (ms: number): string =>
  new Date(ms).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });

/** "in 12 s", "in 3 min", "now". */
export function formatIn(ms: number, now: number): string {
  const s = Math.round((ms - now) / 1000);
  if (s <= 0) return 'now';
  if (s < 60) return `in ${s} s`;
  const m = Math.round(s / 60);
  return m < 60 ? `in ${m} min` : `in ${Math.round(m / 60)} h`;
}

export const STATUS_LABELS: Record<CaptureStatus, string> = {
  queued: 'Queued',
  uploading: 'Uploading',
  verifying: 'Verifying',
  synced: 'Synced',
  retrying: 'Retrying',
  'needs-attention': 'Needs attention',
};

/** Field names as the form labels them, for messages such as "Patient ID is required". */
export const FIELD_LABELS: Record<string, string> = {
  patientId: 'Patient ID',
  consultationId: 'Consultation',
  bodyPart: 'Body part',
  view: 'View',
  notes: 'Notes',
  capturedAt: 'Capture time',
  deviceId: 'Device',
  priority: 'Priority',
};

/** "metadata.patientId" or "patientId" → "patientId". */
export const fieldKey = (field: string): string => field.split('.').at(-1) ?? field;

/** Common DICOM (0018,0015) Body Part Examined codes, as offered in the form. */
export const BODY_PARTS = [
  'CHEST',
  'ABDOMEN',
  'PELVIS',
  'SKULL',
  'CSPINE',
  'TSPINE',
  'LSPINE',
  'SHOULDER',
  'CLAVICLE',
  'HUMERUS',
  'ELBOW',
  'FOREARM',
  'WRIST',
  'HAND',
  'HIP',
  'FEMUR',
  'KNEE',
  'LEG',
  'ANKLE',
  'FOOT',
] as const;

export const VIEW_LABELS: Record<string, string> = {
  AP: 'AP (front to back)',
  PA: 'PA (back to front)',
  LAT: 'Lateral',
  LL: 'Left lateral',
  RL: 'Right lateral',
  OBL: 'Oblique',
  LLD: 'Left lateral decubitus',
  RLD: 'Right lateral decubitus',
  OTHER: 'Other',
};
