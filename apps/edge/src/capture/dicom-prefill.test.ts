import { describe, expect, it } from 'vitest';
import { dicomPrefill } from './dicom-prefill.ts';

const tags = { patientId: 'P-7', bodyPartExamined: 'chest', viewPosition: 'pa' };

describe('dicomPrefill', () => {
  it('fills what was left blank: the patient as is, the body part and view upper-cased', () => {
    expect(dicomPrefill({}, tags)).toEqual({ patientId: 'P-7', bodyPart: 'CHEST', view: 'PA' });
    expect(dicomPrefill({ patientId: '  ', bodyPart: '', view: '' }, tags)).toEqual({
      patientId: 'P-7',
      bodyPart: 'CHEST',
      view: 'PA',
    });
  });

  it('never replaces what the paramedic entered (whether that patient is right is patient-check.ts)', () => {
    expect(dicomPrefill({ patientId: 'P-1001', bodyPart: 'HAND', view: 'LAT' }, tags)).toEqual({});
    expect(dicomPrefill({ patientId: 'P-1001' }, tags)).toEqual({ bodyPart: 'CHEST', view: 'PA' });
  });

  it('fills nothing from an absent tag, a blank tag, a view the schema does not know, or no DICOM', () => {
    expect(dicomPrefill({}, { patientId: ' ', viewPosition: 'AXIAL' })).toEqual({});
    expect(dicomPrefill({}, { bodyPartExamined: 'KNEE' })).toEqual({ bodyPart: 'KNEE' });
    expect(dicomPrefill({}, undefined)).toEqual({});
  });
});
