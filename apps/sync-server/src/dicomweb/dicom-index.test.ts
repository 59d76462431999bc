import { loadDicomReader } from '@xray/shared';
import { makeDicom } from '@xray/testkit';
import { describe, expect, it } from 'vitest';
import { indexEntryOf, instancePath } from './dicom-index.ts';
import { withLinkedPatient } from './linked-patient.ts';
import { qidoDataset, withLinks } from './qido-response.ts';

const dicom = await loadDicomReader();
const { readDicomHeader } = dicom;

const uids = { study: '1.2.3.1', series: '1.2.3.1.1', instance: '1.2.3.1.1.1' };
const file = makeDicom({
  rows: 16,
  columns: 16,
  patientName: 'Müller^Jörg',
  patientId: 'P-7',
  studyInstanceUid: uids.study,
  seriesInstanceUid: uids.series,
  sopInstanceUid: uids.instance,
});

describe('indexEntryOf', () => {
  it('keeps the matched attributes and the DICOM JSON header, pixel data by reference', () => {
    const entry = indexEntryOf(readDicomHeader(file));
    expect(entry).toMatchObject({
      studyUid: uids.study,
      seriesUid: uids.series,
      sopUid: uids.instance,
      patientId: 'P-7',
      patientName: 'Müller^Jörg',
      modality: 'DX',
      rows: 16,
      columns: 16,
      transferSyntaxUid: '1.2.840.10008.1.2.1',
      headerComplete: true,
    });
    expect(entry?.header['7FE00010']).toEqual({ vr: 'OW', BulkDataURI: instancePath(uids) });
  });

  it('a header prefix cut before the pixel data is indexed as incomplete; no UIDs, no entry', () => {
    const cut = file.subarray(0, file.indexOf(Buffer.from('MONOCHROME2')));
    expect(indexEntryOf(readDicomHeader(cut))).toMatchObject({ sopUid: uids.instance, headerComplete: false });
    const noUids = readDicomHeader(file);
    delete noUids.dataset['0020000D'];
    expect(indexEntryOf(noUids)).toBeUndefined();
  });
});

describe('qidoDataset', () => {
  const entry = indexEntryOf(readDicomHeader(file));
  if (!entry) throw new Error('no entry');
  const hit = {
    header: entry.header,
    transferSyntaxUid: entry.transferSyntaxUid,
    xrayIds: ['x'],
    seriesCount: 1,
    instanceCount: 3,
    modalities: ['DX', 'CR'],
    patientId: entry.patientId ?? '',
    identityStatus: 'consistent',
  };

  it('a study: its attributes, the computed ones, the retrieve URL; not series or instance attributes', () => {
    const d = qidoDataset('study', hit, { includefield: [] }, 'https://pacs.example', dicom);
    expect(d['00080061']).toEqual({ vr: 'CS', Value: ['CR', 'DX'] });
    expect(d['00201206']).toEqual({ vr: 'IS', Value: [1] });
    expect(d['00201208']).toEqual({ vr: 'IS', Value: [3] });
    expect(d['00081190']).toEqual({ vr: 'UR', Value: [`https://pacs.example/dicom-web/studies/${uids.study}`] });
    // Required, absent from the file: present without a value.
    expect(d['00080050']).toEqual({ vr: 'SH' });
    expect(d['0020000E']).toBeUndefined();
    expect(Object.keys(d)).toEqual([...Object.keys(d)].sort());
  });

  it('an instance: its own attributes and transfer syntax; `all` adds the header but never bulk data', () => {
    const d = qidoDataset('instance', hit, { includefield: 'all' }, 'https://pacs.example', dicom);
    expect(d['00083002']).toEqual({ vr: 'UI', Value: ['1.2.840.10008.1.2.1'] });
    expect(d['00280004']).toEqual({ vr: 'CS', Value: ['MONOCHROME2'] });
    expect(d['7FE00010']).toBeUndefined();
    expect(d['00201208']).toBeUndefined();
  });

  it('PatientID is the linked patient; the file’s own (with its issuer) kept in OtherPatientIDsSequence', () => {
    const header = {
      ...entry.header,
      '00100020': { vr: 'LO', Value: ['P-1003'] },
      '00100021': { vr: 'LO', Value: ['HOSPITAL-A'] },
    };
    const d = qidoDataset('study', { ...hit, header, patientId: 'P-1001' }, { includefield: [] }, undefined, dicom);
    expect(d['00100020']).toEqual({ vr: 'LO', Value: ['P-1001'] });
    expect(d['00101002']).toEqual({
      vr: 'SQ',
      Value: [{ '00100020': { vr: 'LO', Value: ['P-1003'] }, '00100021': { vr: 'LO', Value: ['HOSPITAL-A'] } }],
    });
    expect(withLinkedPatient(header, { patientId: 'P-1003', identityStatus: 'consistent' }, undefined)).toEqual({
      header,
      corrected: false,
    });
    const moved = withLinkedPatient(header, { patientId: 'P-1001', identityStatus: 'mismatch' }, undefined);
    expect(moved.corrected).toBe(true);
    expect(moved.header['00100021']).toBeUndefined();
  });

  it('a PatientID that reads as ours but was issued by another authority (PATIENT_ID_ISSUER) is corrected too', () => {
    const issued = (...issuer: string[]) => ({
      ...entry.header,
      '00100020': { vr: 'LO', Value: ['P-1001'] },
      '00100021': { vr: 'LO', Value: issuer },
    });
    const linked = { patientId: 'P-1001', identityStatus: 'mismatch' };
    const clinic = withLinkedPatient(issued('CLINIC-B'), linked, 'HOSPITAL-A');
    expect(clinic.corrected).toBe(true);
    expect(clinic.header['00100020']).toEqual({ vr: 'LO', Value: ['P-1001'] });
    // Our P-1001 is never shown as issued by CLINIC-B: the file's pair is set aside.
    expect(clinic.header['00100021']).toBeUndefined();
    expect(clinic.header['00101002']).toEqual({
      vr: 'SQ',
      Value: [{ '00100020': { vr: 'LO', Value: ['P-1001'] }, '00100021': { vr: 'LO', Value: ['CLINIC-B'] } }],
    });
    const d = qidoDataset(
      'study',
      { ...hit, header: issued('CLINIC-B'), ...linked },
      { includefield: [] },
      undefined,
      dicom,
      'HOSPITAL-A',
    );
    expect(d['00101002']).toEqual(clinic.header['00101002']);
    // Ours (case and padding aside), or no setting: the file as it is.
    expect(withLinkedPatient(issued(' hospital-a '), linked, 'HOSPITAL-A').corrected).toBe(false);
    expect(withLinkedPatient(issued('CLINIC-B'), linked, undefined).corrected).toBe(false);
    // A second value is read as ingest reads it (HOSPITAL-A\CLINIC-B is not ours).
    expect(withLinkedPatient(issued('HOSPITAL-A', 'CLINIC-B'), linked, 'HOSPITAL-A').corrected).toBe(true);
  });

  it('withLinks makes bulk data references links, in sequences too', () => {
    const linked = withLinks(
      { '00081140': { vr: 'SQ', Value: [{ '00091001': { vr: 'OB', BulkDataURI: '/dicom-web/x' } }] } },
      'https://pacs.example/',
    );
    expect(linked['00081140']?.Value).toEqual([
      { '00091001': { vr: 'OB', BulkDataURI: 'https://pacs.example/dicom-web/x' } },
    ]);
  });
});
