import { describe, expect, it } from 'vitest';
import { assertRetrieveAcceptable, dicomJsonTypeFor, parseAccept } from './dicomweb.accept.ts';

const JPEG = '1.2.840.10008.1.2.4.70';
const EXPLICIT = '1.2.840.10008.1.2.1';

describe('DICOMweb Accept', () => {
  it('parses ranges with quoted parameters and q values; q=0 refuses', () => {
    expect(parseAccept('multipart/related; type="application/dicom"; transfer-syntax=*, application/json;q=0')).toEqual(
      [{ type: 'multipart/related', params: { type: 'application/dicom', 'transfer-syntax': '*' }, q: 1 }],
    );
    expect(parseAccept(undefined)).toEqual([{ type: '*/*', params: {}, q: 1 }]);
  });

  it('DICOM JSON: dicom+json by default or for */*, json when that is asked for, else 406', () => {
    expect(dicomJsonTypeFor(undefined)).toBe('application/dicom+json');
    expect(dicomJsonTypeFor('*/*')).toBe('application/dicom+json');
    expect(dicomJsonTypeFor('application/json')).toBe('application/json');
    expect(dicomJsonTypeFor('application/json;q=0.5, application/dicom+json')).toBe('application/dicom+json');
    expect(() => dicomJsonTypeFor('image/png')).toThrow(expect.objectContaining({ code: 'not_acceptable' }));
  });

  it('retrieve: as stored or transfer-syntax=*; another syntax or another type is 406', () => {
    const ok = (accept: string | undefined, stored: string[]) => () => assertRetrieveAcceptable(accept, stored);
    expect(ok(undefined, [JPEG])).not.toThrow();
    expect(ok('multipart/related; type="application/dicom"', [JPEG])).not.toThrow();
    expect(ok('multipart/related; type="application/dicom"; transfer-syntax=*', [JPEG, EXPLICIT])).not.toThrow();
    expect(ok(`multipart/related; type=application/dicom; transfer-syntax=${JPEG}`, [JPEG])).not.toThrow();
    expect(ok(`multipart/related; type="application/dicom"; transfer-syntax=${EXPLICIT}`, [JPEG])).toThrow(
      expect.objectContaining({ code: 'not_acceptable' }),
    );
    expect(ok(`multipart/related; type="application/dicom"; transfer-syntax=${EXPLICIT}`, [EXPLICIT, JPEG])).toThrow();
    expect(ok('multipart/related; type="application/octet-stream"', [JPEG])).toThrow();
    expect(ok('application/dicom+json', [JPEG])).toThrow();
  });
});
