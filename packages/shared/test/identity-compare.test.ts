import { describe, expect, it } from 'vitest';
import {
  compareIdentity,
  compareNames,
  nameParts,
  normalizeDate,
  normalizeSex,
  otherIssuer,
  sameFilePatient,
  samePatientId,
} from '../src/identity/compare.ts';
import { IdentityOverrideInputSchema } from '../src/schemas/identity.ts';

describe('names as a clinician reads them', () => {
  it.each([
    ['KELLER^MARIA', 'Maria Keller'],
    ['Keller^Maria', 'maria keller'],
    ['KELLER^MARIA', 'Keller, Maria'],
    ['Müller^Jürgen', 'JÜRGEN MÜLLER'],
    ['MULLER^JURGEN', 'Jürgen Müller'],
    ['MUELLER^JUERGEN', 'Jürgen Müller'],
    ['Müller^Jürgen', 'Juergen Mueller'],
    ['Mu\u0308ller^Ju\u0308rgen', 'Juergen Mueller'],
    ['  KELLER ^ MARIA  ', '  Maria   Keller '],
    ['KELLER^MARIA^ANNA', 'Maria Keller'],
    ['KELLER^MARIA', 'Maria Anna Keller'],
    ['KELLER^MARIA^^DR^', 'Maria Keller'],
    ['VAN DER BERG^ANNA', 'Anna van der Berg'],
    ['SCHMIDT-WEBER^LEA', 'Lea Schmidt-Weber'],
    ["O'BRIEN^SEAN", 'Sean OBrien'],
    ['O\u2019BRIEN^SEAN', 'Sean OBrien'],
    ['STRASSE^ANNA', 'Anna Straße'],
    ['KELLER^MARIA=ケラー^マリア', 'Maria Keller'],
    ['Maria Keller', 'Maria Keller'],
    ['KELLER^MARIA', 'Dr. Maria Keller'],
    ['KELLER^MARIA^^PROF. DR.', 'Keller, Prof. Dr. Maria'],
  ])('%s is %s', (file, record) => {
    expect(compareNames(file, record)).toBe('same');
  });

  it.each([
    ['DOE^JOHN', 'Maria Keller'],
    ['KELLER^MARTA', 'Maria Keller'],
    ['KELLER^ANNA', 'Maria Anna Keller'],
    ['KELLERMANN^MARIA', 'Maria Keller'],
    ['MUELLER^JUERGEN', 'Jurgen Muller'],
    ['', 'Maria Keller'],
  ])('%s is not %s', (file, record) => {
    expect(compareNames(file, record)).toBe('differs');
  });

  it('family and given name swapped: the same words in another order, told as such', () => {
    expect(compareNames('MARIA^KELLER', 'Maria Keller')).toBe('order_differs');
    expect(compareNames('MARIA^KELLER', 'Keller, Maria')).toBe('order_differs');
  });

  it('splits a PN into family and given (middle included), a display name by its last word', () => {
    expect(nameParts('Keller^Maria^Anna^Dr^PhD')).toMatchObject({ family: ['keller'], given: ['maria', 'anna'] });
    expect(nameParts('Maria Keller')).toMatchObject({ family: ['keller'], given: ['maria'], ordered: false });
  });
});

describe('dates and sex', () => {
  it('DICOM DA and ISO dates are one date', () => {
    expect(normalizeDate('19570314')).toBe('19570314');
    expect(normalizeDate('1957-03-14')).toBe('19570314');
    expect(normalizeDate('1957-03-14T00:00:00Z')).toBe('19570314');
    expect(normalizeDate('1957.03.14')).toBe('19570314');
    expect(normalizeDate('19570231')).toBeUndefined();
    expect(normalizeDate('1957')).toBeUndefined();
    expect(normalizeDate('not a date')).toBeUndefined();
  });

  it('M/F/O against the words a record uses; unknown is not compared', () => {
    expect(normalizeSex('F')).toBe('F');
    expect(normalizeSex('female')).toBe('F');
    expect(normalizeSex('Weiblich')).toBe('F');
    expect(normalizeSex('M')).toBe('M');
    expect(normalizeSex('male')).toBe('M');
    expect(normalizeSex('O')).toBe('O');
    expect(normalizeSex('other')).toBe('O');
    expect(normalizeSex('unknown')).toBeUndefined();
    expect(normalizeSex('U')).toBeUndefined();
  });

  it('patient ids: case and blanks aside', () => {
    expect(samePatientId(' p-1001 ', 'P-1001')).toBe(true);
    expect(samePatientId('P-1001', 'P-1003')).toBe(false);
  });
});

describe('compareIdentity', () => {
  const record = { name: 'Maria Keller', birthDate: '1957-03-14', sex: 'female' };
  const file = { patientId: 'P-1001', patientName: 'KELLER^MARIA', patientBirthDate: '19570314', patientSex: 'F' };

  it('all four agree: compared, no mismatch', () => {
    expect(compareIdentity(file, { patientId: 'P-1001', record })).toEqual({
      inFile: ['patientId', 'patientName', 'patientBirthDate', 'patientSex'],
      compared: ['patientId', 'patientName', 'patientBirthDate', 'patientSex'],
      mismatches: [],
    });
  });

  it('each field that differs, with what each side said and where it came from', () => {
    const got = compareIdentity(
      { patientId: 'P-1003', patientName: 'DOE^JOHN', patientBirthDate: '19800101', patientSex: 'M' },
      { patientId: 'P-1001', record },
    );
    expect(got.mismatches).toEqual([
      { field: 'patientId', file: 'P-1003', expected: 'P-1001', source: 'metadata' },
      { field: 'patientName', file: 'DOE^JOHN', expected: 'Maria Keller', source: 'patient_service' },
      { field: 'patientBirthDate', file: '19800101', expected: '1957-03-14', source: 'patient_service' },
      { field: 'patientSex', file: 'M', expected: 'female', source: 'patient_service' },
    ]);
  });

  it('without a record only the id is compared; blank tags are not in the file', () => {
    expect(compareIdentity({ ...file, patientSex: ' ' }, { patientId: 'P-1001' })).toEqual({
      inFile: ['patientId', 'patientName', 'patientBirthDate'],
      compared: ['patientId'],
      mismatches: [],
    });
  });

  it('a value that cannot be read (unknown sex, partial date) is not compared', () => {
    const got = compareIdentity(
      { patientSex: 'U', patientBirthDate: '1957' },
      { patientId: 'P-1001', record: { ...record, sex: 'unknown' } },
    );
    expect(got).toEqual({ inFile: ['patientBirthDate', 'patientSex'], compared: [], mismatches: [] });
  });

  it('a name of separators only says nothing: not compared', () => {
    expect(compareIdentity({ patientName: '^^^' }, { patientId: 'P-1001', record })).toEqual({
      inFile: ['patientName'],
      compared: [],
      mismatches: [],
    });
  });

  it('a swapped name carries the name_order hint', () => {
    const got = compareIdentity({ patientName: 'MARIA^KELLER' }, { patientId: 'P-1001', record });
    expect(got.mismatches).toEqual([
      {
        field: 'patientName',
        file: 'MARIA^KELLER',
        expected: 'Maria Keller',
        source: 'patient_service',
        hint: 'name_order',
      },
    ]);
  });
});

describe('the override a device sends', () => {
  it('needs fields, a reason and when', () => {
    const ok = {
      fields: ['patientName'],
      reason: 'Detector kept the previous name',
      decidedAt: '2026-11-27T08:10:00Z',
    };
    expect(IdentityOverrideInputSchema.safeParse(ok).success).toBe(true);
    expect(IdentityOverrideInputSchema.safeParse({ ...ok, fields: [] }).success).toBe(false);
    expect(IdentityOverrideInputSchema.safeParse({ ...ok, fields: ['patientName', 'patientName'] }).success).toBe(
      false,
    );
    expect(IdentityOverrideInputSchema.safeParse({ ...ok, reason: 'x' }).success).toBe(false);
    expect(IdentityOverrideInputSchema.safeParse({ ...ok, reason: 'two\nlines' }).success).toBe(false);
    expect(IdentityOverrideInputSchema.safeParse({ ...ok, by: 'someone' }).success).toBe(false);
  });
});

describe('attack 19: every group and value of a PN counts', () => {
  it.each([
    ['=DOE^JOHN', 'Maria Keller'],
    ['DOE^JOHN=KELLER^MARIA', 'Maria Keller'],
    ['KELLER^MARIA\\DOE^JOHN', 'Maria Keller'],
    ['DOE^JOHN\\KELLER^MARIA', 'Maria Keller'],
    ['=山田^太郎', 'Maria Keller'],
  ])('%s is not %s (a group or value naming someone else is never skipped)', (file, record) => {
    expect(compareNames(file, record)).toBe('differs');
    expect(compareIdentity({ patientName: file }, { patientId: 'P-1', record: { name: record } }).mismatches).toEqual([
      expect.objectContaining({ field: 'patientName' }),
    ]);
  });

  it.each([
    ['=山田^太郎', '山田太郎'],
    ['=山田^太郎', '山田 太郎'],
    ['YAMADA^TARO=山田^太郎', 'Taro Yamada'],
    ['YAMADA^TARO=山田^太郎', '山田太郎'],
    ['Yamada^Tarou=山田^太郎=やまだ^たろう', 'やまだ たろう'],
    ['Hong^Gildong=洪^吉洞=홍^길동', '홍길동'],
  ])('%s is %s (each group against the record in its script)', (file, record) => {
    expect(compareNames(file, record)).toBe('same');
  });

  it('a name of separators only is not compared', () => {
    expect(compareIdentity({ patientName: '^^=^' }, { patientId: 'P-1', record: { name: 'Maria Keller' } })).toEqual({
      inFile: ['patientName'],
      compared: [],
      mismatches: [],
    });
  });
});

describe('the assigning authority that issued the PatientID (IssuerOfPatientID)', () => {
  const record = { name: 'Maria Keller', birthDate: '1957-03-14', sex: 'female' };
  const file = { patientId: 'P-1001', patientName: 'KELLER^MARIA', patientBirthDate: '19570314', patientSex: 'F' };
  const ours = { patientId: 'P-1001', issuer: 'HOSPITAL-A', record };

  it('the same id issued by another authority is another patient: a patientId mismatch naming both issuers', () => {
    expect(compareIdentity({ ...file, issuerOfPatientId: 'CLINIC-B' }, ours)).toEqual({
      inFile: ['patientId', 'patientName', 'patientBirthDate', 'patientSex'],
      compared: ['patientId', 'patientName', 'patientBirthDate', 'patientSex'],
      mismatches: [
        {
          field: 'patientId',
          file: 'P-1001 (issuer CLINIC-B)',
          expected: 'P-1001 (issuer HOSPITAL-A)',
          source: 'metadata',
          hint: 'other_issuer',
        },
      ],
    });
  });

  it('another id from another authority: one patientId mismatch, both issuers named', () => {
    expect(
      compareIdentity({ patientId: ' P-1003 ', issuerOfPatientId: ' CLINIC-B ' }, { ...ours, issuer: ' HOSPITAL-A ' })
        .mismatches,
    ).toEqual([
      {
        field: 'patientId',
        file: 'P-1003 (issuer CLINIC-B)',
        expected: 'P-1001 (issuer HOSPITAL-A)',
        source: 'metadata',
        hint: 'other_issuer',
      },
    ]);
  });

  it('our own issuer, however written, is no mismatch; nor is a file or a server that names none (as before)', () => {
    const none = { inFile: ['patientId'], compared: ['patientId'], mismatches: [] };
    for (const [fileIssuer, ourIssuer] of [
      [' hospital-a ', 'HOSPITAL-A'],
      [undefined, 'HOSPITAL-A'],
      ['  ', 'HOSPITAL-A'],
      ['CLINIC-B', undefined],
      ['CLINIC-B', ' '],
    ] as const) {
      const label = `file ${String(fileIssuer)}, ours ${String(ourIssuer)}`;
      expect(
        compareIdentity(
          { patientId: 'p-1001', issuerOfPatientId: fileIssuer },
          { patientId: 'P-1001', issuer: ourIssuer },
        ),
        label,
      ).toEqual(none);
      expect(otherIssuer(fileIssuer, ourIssuer), label).toBe(false);
      expect(
        sameFilePatient(
          { patientId: 'p-1001', issuerOfPatientId: fileIssuer },
          { patientId: 'P-1001', issuer: ourIssuer },
        ),
        label,
      ).toBe(true);
    }
    // Without an issuer on our side another id is the mismatch it always was, values as the file has them.
    expect(
      compareIdentity({ patientId: 'P-1003', issuerOfPatientId: 'CLINIC-B' }, { patientId: 'P-1001' }).mismatches,
    ).toEqual([{ field: 'patientId', file: 'P-1003', expected: 'P-1001', source: 'metadata' }]);
  });

  it('sameFilePatient: the same id from the same (or an unknown) authority', () => {
    expect(otherIssuer('CLINIC-B', 'HOSPITAL-A')).toBe(true);
    expect(
      sameFilePatient(
        { patientId: 'P-1001', issuerOfPatientId: 'CLINIC-B' },
        { patientId: 'P-1001', issuer: 'HOSPITAL-A' },
      ),
    ).toBe(false);
    expect(
      sameFilePatient(
        { patientId: 'P-1003', issuerOfPatientId: 'HOSPITAL-A' },
        { patientId: 'P-1001', issuer: 'HOSPITAL-A' },
      ),
    ).toBe(false);
    expect(
      sameFilePatient(
        { patientId: 'P-1001', issuerOfPatientId: 'HOSPITAL-A' },
        { patientId: 'P-1001', issuer: 'HOSPITAL-A' },
      ),
    ).toBe(true);
  });

  it('an issuer without a PatientID says nothing: no patientId in the file', () => {
    expect(compareIdentity({ issuerOfPatientId: 'CLINIC-B', patientName: 'KELLER^MARIA' }, ours)).toEqual({
      inFile: ['patientName'],
      compared: ['patientName'],
      mismatches: [],
    });
  });
});
