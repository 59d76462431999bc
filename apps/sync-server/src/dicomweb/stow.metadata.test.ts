import { describe, expect, it } from 'vitest';
import type { DcmjsDict } from '@xray/shared';
import { captureTimeOf, dicomInstant, stowMetadataOf, xrayIdOfSopInstance } from './stow.metadata.ts';

const NOW = Date.parse('2026-12-06T12:00:00Z');
const SKEW = 5 * 60_000;

/** A header as dcmjs decodes it: tag → {vr, Value}. */
function header(attrs: Record<string, string | undefined>): DcmjsDict {
  const dict: DcmjsDict = {};
  for (const [tag, v] of Object.entries(attrs)) if (v !== undefined) dict[tag] = { vr: 'LO', Value: [v] };
  return dict;
}

const base = {
  '00080016': '1.2.840.10008.5.1.4.1.1.1.1',
  '00080018': '1.2.826.0.1.3680043.8.498.1',
  '0020000D': '1.2.826.0.1.3680043.8.498.2',
  '0020000E': '1.2.826.0.1.3680043.8.498.3',
  '00100020': 'P-1001',
  '00080020': '20261127',
  '00080030': '081500',
  '00180015': 'CHEST',
  '00185101': 'PA',
};

describe('STOW-RS metadata from the DICOM header', () => {
  it('takes patient, capture time, body part and view from the header; routine priority; id from the SOP Instance UID', () => {
    const r = stowMetadataOf(header(base), SKEW, NOW);
    expect(r).toEqual({
      ok: true,
      sop: {
        sopClassUid: base['00080016'],
        sopInstanceUid: base['00080018'],
        studyInstanceUid: base['0020000D'],
        seriesInstanceUid: base['0020000E'],
      },
      metadata: {
        id: xrayIdOfSopInstance(base['00080018']),
        patientId: 'P-1001',
        capturedAt: '2026-11-27T08:15:00.000Z',
        bodyPart: 'CHEST',
        view: 'PA',
        priority: 'routine',
      },
    });
  });

  it('derives one stable version-5 UUID per SOP Instance UID', () => {
    const a = xrayIdOfSopInstance('1.2.3.4');
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(xrayIdOfSopInstance('1.2.3.4')).toBe(a);
    expect(xrayIdOfSopInstance('1.2.3.5')).not.toBe(a);
  });

  it('prefers AcquisitionDateTime, then AcquisitionDate+Time, then ContentDate+Time, then StudyDate+Time', () => {
    const all = header({
      '0008002A': '20261127091000',
      '00080022': '20261127',
      '00080032': '092000',
      '00080023': '20261127',
      '00080033': '093000',
      '00080020': '20261127',
      '00080030': '094000',
    });
    expect(captureTimeOf(all)).toEqual({ at: '2026-11-27T09:10:00.000Z', from: 'AcquisitionDateTime' });
    delete all['0008002A'];
    expect(captureTimeOf(all)).toEqual({ at: '2026-11-27T09:20:00.000Z', from: 'AcquisitionDate' });
    delete all['00080022'];
    expect(captureTimeOf(all)).toEqual({ at: '2026-11-27T09:30:00.000Z', from: 'ContentDate' });
    delete all['00080023'];
    expect(captureTimeOf(all)).toEqual({ at: '2026-11-27T09:40:00.000Z', from: 'StudyDate' });
    delete all['00080020'];
    expect(captureTimeOf(all)).toBeUndefined();
  });

  it('reads the offset of a DT value, else TimezoneOffsetFromUTC, else UTC; a date alone is its midnight', () => {
    expect(dicomInstant('20261127081500.25+0100', undefined, '-0500')).toBe('2026-11-27T07:15:00.250Z');
    expect(dicomInstant('20261127', '081500', '+0100')).toBe('2026-11-27T07:15:00.000Z');
    expect(dicomInstant('20261127', '08:15:00', undefined)).toBe('2026-11-27T08:15:00.000Z');
    expect(dicomInstant('20261127', undefined, undefined)).toBe('2026-11-27T00:00:00.000Z');
    expect(dicomInstant('20261127', '0815', undefined)).toBe('2026-11-27T08:15:00.000Z');
  });

  it('rejects dates and times that are not valid values', () => {
    expect(dicomInstant('20260230', '081500', undefined)).toBeUndefined();
    expect(dicomInstant('2026112', undefined, undefined)).toBeUndefined();
    expect(dicomInstant('20261127', '256000', undefined)).toBeUndefined();
    expect(dicomInstant('20261127', '081500', '+2500')).toBeUndefined();
    // An invalid AcquisitionDate falls through to the next candidate.
    expect(captureTimeOf(header({ '00080022': '2026xx27', '00080020': '20261127' }))?.from).toBe('StudyDate');
  });

  it('maps the view: known views as they are, oblique and lateral terms, anything else OTHER', () => {
    const view = (v: string | undefined) => {
      const r = stowMetadataOf(header({ ...base, '00185101': v }), SKEW, NOW);
      return r.ok ? r.metadata.view : r.message;
    };
    expect(view('AP')).toBe('AP');
    expect(view('ll')).toBe('LL');
    expect(view('RAO')).toBe('OBL');
    expect(view('LATERAL')).toBe('LAT');
    expect(view('XYZ')).toBe('OTHER');
    expect(view(undefined)).toBe('OTHER');
  });

  it('records an absent BodyPartExamined as UNKNOWN and upper-cases a present one', () => {
    const absent = stowMetadataOf(header({ ...base, '00180015': undefined }), SKEW, NOW);
    expect(absent.ok && absent.metadata.bodyPart).toBe('UNKNOWN');
    const lower = stowMetadataOf(header({ ...base, '00180015': 'hand' }), SKEW, NOW);
    expect(lower.ok && lower.metadata.bodyPart).toBe('HAND');
  });

  it('refuses an instance without PatientID, SOP UIDs or any capture time, naming each', () => {
    const r = stowMetadataOf(
      header({ ...base, '00100020': undefined, '00080018': 'not-a-uid', '00080020': undefined }),
      SKEW,
      NOW,
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.message).toContain('PatientID (0010,0020) is missing');
    expect(r.message).toContain('SOPInstanceUID (0008,0018) is not a UID');
    expect(r.message).toContain('no valid capture time');
    // What could be read still identifies the instance in the response.
    expect(r.sop).toMatchObject({ sopClassUid: base['00080016'], studyInstanceUid: base['0020000D'] });
    expect(r.sop.sopInstanceUid).toBeUndefined();
  });

  it('refuses a PatientID or body part the API does not take, by the DICOM attribute', () => {
    const badPatient = stowMetadataOf(header({ ...base, '00100020': 'Doe John' }), SKEW, NOW);
    expect(badPatient.ok).toBe(false);
    expect(!badPatient.ok && badPatient.message).toMatch(/PatientID \(0010,0020\) may contain only/);
    const badPart = stowMetadataOf(header({ ...base, '00180015': 'CHEST/ABDOMEN' }), SKEW, NOW);
    expect(!badPart.ok && badPart.message).toMatch(/BodyPartExamined \(0018,0015\)/);
  });

  it('refuses a capture time ahead of the server clock beyond the skew', () => {
    const r = stowMetadataOf(header({ ...base, '00080020': '20261206', '00080030': '121000' }), SKEW, NOW);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.message).toMatch(/ahead of the server's clock/);
    expect(stowMetadataOf(header({ ...base, '00080020': '20261206', '00080030': '120400' }), SKEW, NOW).ok).toBe(true);
  });
});
