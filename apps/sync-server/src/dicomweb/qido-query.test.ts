import { loadDicomReader } from '@xray/shared';
import { describe, expect, it } from 'vitest';
import { DomainError } from '../errors.ts';
import { likePatternOf, parseQidoQuery, QIDO_MAX_LIMIT, tagOf } from './qido-query.ts';

const dicom = await loadDicomReader();
const parse = (query: string) => parseQidoQuery(new URLSearchParams(query), dicom);
const fieldsOf = (query: string): string[] => {
  try {
    parse(query);
  } catch (err) {
    if (err instanceof DomainError && err.code === 'validation_failed') return (err.fields ?? []).map((f) => f.field);
    throw err;
  }
  return [];
};

describe('parseQidoQuery', () => {
  it('reads keywords and tags alike, wildcards as LIKE, person names case-insensitive', () => {
    const q = parse('PatientName=doe*&00100020=P-1&AccessionNumber=A%3F1');
    expect(q.matches).toEqual([
      { column: 'patient_name', kind: 'like', pattern: 'doe%', caseInsensitive: true },
      { column: 'patient_id', kind: 'any', values: ['P-1'], caseInsensitive: false },
      { column: 'accession_number', kind: 'like', pattern: 'A_1', caseInsensitive: false },
    ]);
    expect(q).toMatchObject({ limit: QIDO_MAX_LIMIT, offset: 0, includefield: [], fuzzyAsked: false, ignored: [] });
  });

  it('escapes what LIKE would read as its own wildcards', () => {
    expect(likePatternOf('50%_a\\b*?')).toBe('50\\%\\_a\\\\b%_');
  });

  it('time ranges include the whole of their upper bound: -0900 reaches 09:00:59.999999', () => {
    expect(parse('StudyTime=0800-0900').matches).toEqual([
      { column: 'study_time', kind: 'range', from: '0800', to: '090059.999999' },
    ]);
    expect(parse('StudyTime=-09').matches).toEqual([
      { column: 'study_time', kind: 'range', from: null, to: '095959.999999' },
    ]);
    expect(parse('StudyTime=-090000.5').matches).toEqual([
      { column: 'study_time', kind: 'range', from: null, to: '090000.599999' },
    ]);
    expect(parse('StudyTime=0800-').matches).toEqual([{ column: 'study_time', kind: 'range', from: '0800', to: null }]);
  });

  it('date ranges: a-b, -b, a-, and an exact date', () => {
    expect(parse('StudyDate=20260101-20260131').matches).toEqual([
      { column: 'study_date', kind: 'range', from: '20260101', to: '20260131' },
    ]);
    expect(parse('StudyDate=-20260131').matches).toEqual([
      { column: 'study_date', kind: 'range', from: null, to: '20260131' },
    ]);
    expect(parse('StudyDate=20260101-').matches).toEqual([
      { column: 'study_date', kind: 'range', from: '20260101', to: null },
    ]);
    expect(parse('StudyDate=20260101').matches).toEqual([
      { column: 'study_date', kind: 'any', values: ['20260101'], caseInsensitive: false },
    ]);
    expect(fieldsOf('StudyDate=2026-01-01')).toEqual(['StudyDate']);
    expect(fieldsOf('StudyDate=20260201-20260101')).toEqual(['StudyDate']);
    expect(fieldsOf('StudyDate=-')).toEqual(['StudyDate']);
  });

  it('UID and modality lists separated by a backslash', () => {
    expect(parse('StudyInstanceUID=1.2.3%5C1.2.4&ModalitiesInStudy=CR%5CDX').matches).toEqual([
      { column: 'study_uid', kind: 'any', values: ['1.2.3', '1.2.4'], caseInsensitive: false },
      { column: 'modality', kind: 'any', values: ['CR', 'DX'], caseInsensitive: false },
    ]);
    expect(fieldsOf('SOPInstanceUID=1.2.x')).toEqual(['SOPInstanceUID']);
  });

  it('empty values and a lone `*` match everything; attributes not indexed are ignored and named', () => {
    const q = parse('PatientName=&PatientID=*&BodyPartExamined=CHEST');
    expect(q.matches).toEqual([]);
    expect(q.ignored).toEqual(['BodyPartExamined']);
  });

  it('limit, offset, includefield (comma-separated, repeated, keyword or tag, all), fuzzymatching', () => {
    const q = parse('limit=5&offset=10&includefield=00081030,Modality&includefield=0008103e&fuzzymatching=true');
    expect(q).toMatchObject({
      limit: 5,
      offset: 10,
      includefield: ['00081030', '00080060', '0008103E'],
      fuzzyAsked: true,
    });
    expect(parse('includefield=Modality&includefield=all').includefield).toBe('all');
    expect(parse('fuzzymatching=false').fuzzyAsked).toBe(false);
  });

  it('refuses what it cannot read, naming each parameter', () => {
    expect(fieldsOf('limit=-1&offset=x&fuzzymatching=maybe')).toEqual(['limit', 'offset', 'fuzzymatching']);
    expect(fieldsOf(`limit=${QIDO_MAX_LIMIT + 1}`)).toEqual(['limit']);
    expect(fieldsOf('NoSuchAttribute=1&includefield=Nope')).toEqual(['NoSuchAttribute', 'includefield']);
    expect(fieldsOf('PatientID=a&00100020=b')).toEqual(['00100020']);
    expect(fieldsOf('limit=1&limit=2')).toEqual(['limit']);
    expect(fieldsOf('SeriesNumber=two')).toEqual(['SeriesNumber']);
    expect(fieldsOf(`PatientName=${'*a'.repeat(200)}`)).toEqual(['PatientName']);
    expect(fieldsOf('PatientID=a%00b')).toEqual(['PatientID']);
  });

  it('tagOf: keywords, tags in either case, nothing else', () => {
    expect(tagOf('PatientName', dicom)).toBe('00100010');
    expect(tagOf('0020000d', dicom)).toBe('0020000D');
    expect(tagOf('__proto__', dicom)).toBeUndefined();
    expect(tagOf('0010001', dicom)).toBeUndefined();
  });
});
