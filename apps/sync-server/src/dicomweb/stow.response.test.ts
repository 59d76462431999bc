import { describe, expect, it } from 'vitest';
import { FAILURE_REASON, failureReasonOf, stowAnswer, warningHeader, type StowOutcome } from './stow.response.ts';

const sop = (n: number) => ({
  sopClassUid: '1.2.840.10008.5.1.4.1.1.1.1',
  sopInstanceUid: `1.2.3.${n}`,
  studyInstanceUid: '1.2.3',
  seriesInstanceUid: '1.2.3.0',
});
const stored = (n: number, repeat = false): StowOutcome => ({ sop: sop(n), stored: { xrayId: `x${n}`, repeat } });
const failed = (n: number | undefined): StowOutcome => ({
  sop: n === undefined ? {} : sop(n),
  failed: { reason: FAILURE_REASON.dataSetMismatch, message: 'no "PatientID"' },
});

describe('the STOW-RS response module', () => {
  it('200 with the study and each instance referenced when all are stored', () => {
    const a = stowAnswer([stored(1), stored(2, true)], 'https://pacs.example/api/', undefined);
    expect(a.status).toBe(200);
    expect(a.body).toEqual({
      '00081190': { vr: 'UR', Value: ['https://pacs.example/api/dicom-web/studies/1.2.3'] },
      '00081199': {
        vr: 'SQ',
        Value: [1, 2].map((n) => ({
          '00081150': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.1.1'] },
          '00081155': { vr: 'UI', Value: [`1.2.3.${n}`] },
          '00081190': {
            vr: 'UR',
            Value: [`https://pacs.example/api/dicom-web/studies/1.2.3/series/1.2.3.0/instances/1.2.3.${n}`],
          },
        })),
      },
    });
    expect(a.warnings).toEqual(['299 - "1.2.3.2: already stored with the same bytes; not stored again"']);
  });

  it('202 when some failed, 409 when none was stored; a failure without UIDs still has its reason', () => {
    const some = stowAnswer([stored(1), failed(2)], 'http://h', undefined);
    expect(some.status).toBe(202);
    expect(some.body['00081198']).toEqual({
      vr: 'SQ',
      Value: [
        {
          '00081150': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.1.1'] },
          '00081155': { vr: 'UI', Value: ['1.2.3.2'] },
          '00081197': { vr: 'US', Value: [0xa900] },
        },
      ],
    });
    const none = stowAnswer([failed(undefined)], 'http://h', '1.2.3');
    expect(none.status).toBe(409);
    expect(none.body).toEqual({
      '00081198': {
        vr: 'SQ',
        Value: [{ '00081150': { vr: 'UI' }, '00081155': { vr: 'UI' }, '00081197': { vr: 'US', Value: [0xa900] } }],
      },
    });
    expect(none.warnings).toEqual(['299 - "a part: failure A900H: no \\"PatientID\\""']);
  });

  it('names the study only when the stored instances are of one (or the path names it)', () => {
    const other = { ...stored(3), sop: { ...sop(3), studyInstanceUid: '9.9' } } as StowOutcome;
    expect(stowAnswer([stored(1), other], 'http://h', undefined).body['00081190']).toBeUndefined();
  });

  it('keeps the Warning headers few and ASCII', () => {
    const many = stowAnswer(
      Array.from({ length: 50 }, (_, i) => failed(i)),
      'http://h',
      undefined,
    );
    expect(many.warnings).toHaveLength(21);
    expect(many.warnings[20]).toBe('299 - "and 30 more instances failed or were stored already"');
    expect(warningHeader('Müller\r\n')).toBe('299 - "M?ller??"');
  });

  it('maps refusals to the Failure Reasons of PS3.18 Table I.2-2', () => {
    expect(failureReasonOf('payload_too_large')).toBe(0xa700);
    expect(failureReasonOf('validation_failed')).toBe(0xa900);
    expect(failureReasonOf('content_invalid')).toBe(0xc000);
    expect(failureReasonOf('unsupported_media_type')).toBe(0xc122);
    expect(failureReasonOf('conflict')).toBe(0x0111);
    expect(failureReasonOf('xray_deleted')).toBe(0x0110);
  });
});
