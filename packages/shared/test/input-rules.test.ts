import { describe, expect, it } from 'vitest';
import {
  AuditQuerySchema,
  fieldErrors,
  OutboxQuerySchema,
  XrayListQuerySchema,
  XrayMetadataInputSchema,
  XrayUpdateSchema,
} from '../src/index.ts';

const valid = {
  patientId: 'P-1001',
  capturedAt: '2026-01-27T08:15:00Z',
  bodyPart: 'CHEST',
  view: 'PA',
};

/** The fields a parse refused, or [] when it succeeded. */
function refused(result: { success: boolean; error?: Parameters<typeof fieldErrors>[0] }): string[] {
  return result.success || !result.error ? [] : fieldErrors(result.error).map((e) => e.field);
}

const HOSTILE_TEXT: [string, string][] = [
  ['NUL', 'a\u0000b'],
  ['a C0 control (ESC)', 'a\u001bb'],
  ['a line feed', 'a\nb'],
  ['a carriage return', 'a\rb'],
  ['DEL', 'a\u007fb'],
  ['a C1 control (NEL)', 'a\u0085b'],
  ['the line separator U+2028', 'a\u2028b'],
  ['the paragraph separator U+2029', 'a\u2029b'],
  ['a bidi override U+202E', 'a\u202eb'],
  ['a right-to-left mark U+200F', 'a\u200fb'],
  ['a left-to-right mark U+200E', 'a\u200eb'],
  ['an Arabic letter mark U+061C', 'a\u061cb'],
  ['a zero-width space U+200B', 'a\u200bb'],
  ['a byte order mark U+FEFF', 'a\ufeffb'],
  ['a word joiner U+2060', 'a\u2060b'],
  ['a tag character U+E0041', 'a\u{E0041}b'],
  ['a noncharacter U+FFFF', 'a\uffffb'],
  ['a bidi isolate U+2066', 'a\u2066b'],
  ['a lone surrogate', 'a\ud800b'],
  ['a trailing control that trimming would hide', 'CHEST\u0000'],
];

describe('client text fields refuse control characters', () => {
  const single = ['patientId', 'consultationId', 'deviceId', 'bodyPart'] as const;
  for (const field of single) {
    it.each(HOSTILE_TEXT)(`metadata ${field}: %s`, (_label, value) => {
      expect(refused(XrayMetadataInputSchema.safeParse({ ...valid, [field]: value }))).toContain(field);
    });
  }

  it.each(HOSTILE_TEXT.filter(([label]) => label !== 'a line feed'))('notes: %s', (_label, value) => {
    expect(refused(XrayMetadataInputSchema.safeParse({ ...valid, notes: value }))).toEqual(['notes']);
    expect(refused(XrayUpdateSchema.safeParse({ notes: value }))).toEqual(['notes']);
  });

  it('notes may span lines and hold tabs, and any printable script', () => {
    const notes = 'Rib fracture?\n\tLeft side, 3rd–5th\nגבר 45 · 男性 😀 café';
    expect(XrayMetadataInputSchema.parse({ ...valid, notes }).notes).toBe(notes);
    expect(XrayUpdateSchema.parse({ notes }).notes).toBe(notes);
  });

  it.each(['patientId', 'consultationId', 'bodyPart'] as const)('correction %s refuses NUL', (field) => {
    expect(refused(XrayUpdateSchema.safeParse({ [field]: 'X\u0000' }))).toContain(field);
  });

  it('list and audit filters refuse control characters', () => {
    // patientId repeats (patientId=A&patientId=B): the error names which one.
    expect(refused(XrayListQuerySchema.safeParse({ patientId: 'P\u0000' }))).toContain('patientId.0');
    expect(refused(XrayListQuerySchema.safeParse({ patientId: ['P-1', 'P\u0000'] }))).toContain('patientId.1');
    expect(refused(AuditQuerySchema.safeParse({ patientId: 'P\u0085' }))).toContain('patientId');
    expect(refused(AuditQuerySchema.safeParse({ actor: 'sub\u0000' }))).toContain('actor');
  });

  it('overlong text is refused', () => {
    expect(refused(XrayMetadataInputSchema.safeParse({ ...valid, notes: 'x'.repeat(2001) }))).toEqual(['notes']);
    expect(refused(XrayMetadataInputSchema.safeParse({ ...valid, deviceId: 'x'.repeat(129) }))).toEqual(['deviceId']);
    expect(refused(XrayMetadataInputSchema.safeParse({ ...valid, patientId: 'x'.repeat(65) }))).toEqual(['patientId']);
  });
});

describe('date-times are bounded', () => {
  const inHours = (h: number) => new Date(Date.now() + h * 3600_000).toISOString();

  it.each([
    ['year 0000', '0000-01-01T00:00:00Z'],
    ['before 1900', '1899-12-31T23:59:59Z'],
    ['1900 in a zone east of UTC (still 1899 in UTC)', '1900-01-01T00:30:00+01:00'],
    ['more than a day ahead', inHours(25)],
    ['years ahead', '9999-12-31T23:59:59Z'],
    ['an offset PostgreSQL refuses', '2026-01-01T00:00:00+23:59'],
  ])('capturedAt: %s is refused', (_label, capturedAt) => {
    expect(refused(XrayMetadataInputSchema.safeParse({ ...valid, capturedAt }))).toEqual(['capturedAt']);
  });

  it('capturedAt says what is wrong, once', () => {
    const r = XrayMetadataInputSchema.safeParse({ ...valid, capturedAt: inHours(48) });
    expect(r.success).toBe(false);
    expect(r.error && fieldErrors(r.error)).toEqual([
      { field: 'capturedAt', message: expect.stringContaining('24 hours in the future') },
    ]);
    const notADate = XrayMetadataInputSchema.safeParse({ ...valid, capturedAt: 'yesterday' });
    expect(notADate.error && fieldErrors(notADate.error)).toEqual([
      { field: 'capturedAt', message: 'must be an ISO 8601 date-time' },
    ]);
  });

  it.each([
    ['1900-01-01T00:00:00Z'],
    ['1900-01-01T00:00:00-05:00'],
    [inHours(23)],
    ['2026-01-27T08:15:00.123456+14:00'],
    ['2026-01-27T08:15:00-12:00'],
  ])('capturedAt %s is taken (a tablet clock may run a day fast)', (capturedAt) => {
    expect(XrayMetadataInputSchema.safeParse({ ...valid, capturedAt }).success).toBe(true);
  });

  it.each(['from', 'to'] as const)('list and audit filter %s: year 0000 is refused, naming it', (field) => {
    expect(refused(XrayListQuerySchema.safeParse({ [field]: '0000-01-01T00:00:00Z' }))).toEqual([field]);
    expect(refused(AuditQuerySchema.safeParse({ [field]: '0000-01-01T00:00:00Z' }))).toEqual([field]);
    // A filter may reach into the future: "everything until 2100" is a fair question.
    expect(XrayListQuerySchema.safeParse({ [field]: '2100-01-01T00:00:00Z' }).success).toBe(true);
  });
});

describe('cursors look like what the server issues', () => {
  it.each([
    ['not base64url', 'WyIxIiwiMDAwMDAw+/='],
    ['a control character', 'abc\u0000'],
    ['too long', 'a'.repeat(513)],
  ])('GET /xrays cursor: %s', (_label, cursor) => {
    expect(refused(XrayListQuerySchema.safeParse({ cursor }))).toContain('cursor');
  });

  it('GET /audit cursor: not base64url', () => {
    expect(refused(AuditQuerySchema.safeParse({ cursor: 'YXNjOjE=' }))).toContain('cursor');
  });

  it('GET /admin/outbox cursor: beyond a bigint', () => {
    expect(refused(OutboxQuerySchema.safeParse({ cursor: '9999999999999999999' }))).toEqual(['cursor']);
    expect(OutboxQuerySchema.safeParse({ cursor: '9223372036854775807' }).success).toBe(true);
  });
});
