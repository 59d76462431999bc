import { randomUUID } from 'node:crypto';
import type { Xray } from '@xray/shared';
import { describe, expect, it } from 'vitest';
import {
  addressed,
  dicomSummaryOf,
  identityMismatchIfNew,
  xrayDeleted,
  xrayLinks,
  xrayUploaded,
} from './xray.events.ts';

const xray = (over: Partial<Xray> = {}): Xray => ({
  id: randomUUID(),
  patientId: 'P-1001',
  consultationId: null,
  capturedAt: '2026-11-27T08:15:00.000Z',
  capturedBy: { sub: 'p', name: null },
  deviceId: null,
  bodyPart: 'CHEST',
  view: 'PA',
  priority: 'routine',
  notes: null,
  contentType: 'image/png',
  sizeBytes: 1,
  sha256: '0'.repeat(64),
  dicom: null,
  link: { status: 'unchecked' },
  identity: { status: 'unknown', fields: [], compared: [], reason: 'not_dicom', overridden: false },
  dicomUidConflict: false,
  uploadedAt: '2026-11-27T08:31:02.118Z',
  changeSeq: 3,
  ...over,
});

describe('event links', () => {
  it('are absolute, under PUBLIC_URL with its path prefix, with or without a trailing slash', () => {
    for (const base of ['https://xray.example.org/api', 'https://xray.example.org/api/'])
      expect(xrayLinks(base, 'abc')).toEqual({
        self: 'https://xray.example.org/api/xrays/abc',
        download: 'https://xray.example.org/api/xrays/abc/download',
        preview: 'https://xray.example.org/api/xrays/abc/preview',
      });
    expect(xrayLinks('http://127.0.0.1:8080', 'abc').self).toBe('http://127.0.0.1:8080/xrays/abc');
  });

  it('are on every event but xray.deleted', () => {
    const x = xray();
    expect(addressed(xrayUploaded(x), 'https://h.example')).toMatchObject({
      links: { self: `https://h.example/xrays/${x.id}` },
    });
    expect(addressed(xrayDeleted(x, null), 'https://h.example')).not.toHaveProperty('links');
  });
});

describe('DICOM summary', () => {
  it('keeps what describes the image and drops what names the patient', () => {
    expect(
      dicomSummaryOf({ patientId: 'PAT-1', patientName: 'DOE^JANE', modality: 'DX', rows: 10, studyDate: '20260101' }),
    ).toEqual({ modality: 'DX', rows: 10, studyDate: '20260101' });
    expect(dicomSummaryOf(null)).toBeNull();
  });
});

describe('an event that would not match its published schema', () => {
  it('is refused when it is written, not sent', () => {
    // A sequence of 0 is none the server issues.
    expect(() => addressed(xrayUploaded(xray({ changeSeq: 0 })), 'https://h.example')).toThrow();
    expect(() => addressed(xrayUploaded(xray()), 'not a url')).toThrow();
  });
});

describe('identity in events', () => {
  const mismatch: Xray['identity'] = {
    status: 'mismatch',
    fields: [{ field: 'patientName', file: 'DOE^JOHN', expected: 'Maria Keller', source: 'patient_service' }],
    compared: ['patientId', 'patientName'],
    overridden: true,
    override: {
      fields: ['patientName'],
      reason: 'Detector kept the last name',
      decidedAt: '2026-11-27T08:14:00.000Z',
      by: { sub: 'para-1', name: 'Sam Ortiz' },
      from: 'identity_override',
    },
    checkedAt: '2026-11-27T08:31:02.118Z',
  };

  it('names the fields that differ, never their values; the override by whom and when, not why', () => {
    const x = xray({ contentType: 'application/dicom', identity: mismatch });
    const draft = identityMismatchIfNew(undefined, x, 'upload');
    if (!draft) throw new Error('no event');
    const event = addressed(draft, 'https://xray.example.org');
    expect(event).toMatchObject({
      type: 'xray.identity_mismatch',
      sequence: x.changeSeq,
      data: {
        fields: ['patientName'],
        overridden: true,
        override: { by: { sub: 'para-1' }, decidedAt: '2026-11-27T08:14:00.000Z', fields: ['patientName'] },
        cause: 'upload',
        xray: { identity: { status: 'mismatch', fields: ['patientName'], overridden: true } },
      },
    });
    expect(JSON.stringify(event)).not.toMatch(/DOE|Maria|Keller|Detector|Sam Ortiz/);
    // Subjects of other events carry the same brief.
    expect(JSON.stringify(xrayUploaded(x))).not.toMatch(/DOE|Maria|Keller|Detector|Sam Ortiz/);
  });

  it('only news: not the same mismatch again, nothing when consistent or unknown', () => {
    const x = xray({ contentType: 'application/dicom', identity: mismatch });
    expect(identityMismatchIfNew(mismatch, x, 'link_check')).toBeUndefined();
    expect(identityMismatchIfNew({ ...mismatch, overridden: false }, x, 'correction')).toBeDefined();
    expect(identityMismatchIfNew(undefined, xray(), 'upload')).toBeUndefined();
  });
});
