import type { CaptureStatus } from '../db/edge.records.ts';

import { formatBytes } from '../capture/file-check.ts';

export { formatBytes };

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

/** "6.2 of 17.2 MB sent": how much of the encrypted file the server holds (or is receiving). */
export function formatSent(p: { sent: number; total: number }): string {
  const sent = formatBytes(p.sent);
  const total = formatBytes(p.total);
  const [value, unit] = sent.split(' ');
  return unit === total.split(' ')[1] ? `${value} of ${total} sent` : `${sent} of ${total} sent`;
}

/** A retrying capture's line: "Connection stalled — retrying in 8 s", or the next try and why. */
export function formatRetry(
  c: { nextAttemptAt: number; lastError?: { code?: string; message: string } | undefined },
  now: number,
): string {
  if (c.lastError?.code === 'stalled') return `Connection stalled — retrying ${formatIn(c.nextAttemptAt, now)}`;
  const why = c.lastError ? `: ${c.lastError.message}` : '';
  return `Next try ${formatIn(c.nextAttemptAt, now)} (${formatTime(c.nextAttemptAt)})${why}`;
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
