import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { auditHash, canonicalAuditBytes, canonicalJson, GENESIS_HASH, storableJson } from './audit.hash.ts';

const event = {
  id: '42',
  at: new Date('2026-11-27T08:15:00.123Z'),
  actorSub: 'doctor-7',
  actorRoles: ['doctor', 'admin'],
  action: 'xray.download',
  xrayId: '0b7a3f5e-2c1d-4e8f-9a6b-5c4d3e2f1a0b',
  patientId: 'P-1001',
  outcome: 'success',
  clientIp: '203.0.113.7',
  userAgent: 'curl/8.5 "quoted"',
  requestId: 'req-1',
  details: { range: { start: 0, end: 99 }, bytes: 100, method: 'GET', Zeta: null, é: 'x' },
  prevHash: 'ab'.repeat(32),
};

describe('audit hash layout', () => {
  it('is SHA-256 over the JCS array documented in audit.hash.ts, byte for byte', () => {
    const expected =
      '["xray-audit-v1","42","2026-11-27T08:15:00.123Z","doctor-7",["doctor","admin"],"xray.download",' +
      '"0b7a3f5e-2c1d-4e8f-9a6b-5c4d3e2f1a0b","P-1001","success","203.0.113.7","curl/8.5 \\"quoted\\"","req-1",' +
      '{"Zeta":null,"bytes":100,"method":"GET","range":{"end":99,"start":0},"é":"x"},' +
      `"${'ab'.repeat(32)}"]`;
    expect(canonicalAuditBytes(event).toString('utf8')).toBe(expected);
    expect(auditHash(event)).toBe(createHash('sha256').update(Buffer.from(expected, 'utf8')).digest('hex'));
  });

  it('writes absent fields as null and the first link against 64 zeros', () => {
    const first = {
      ...event,
      actorSub: null,
      actorRoles: [],
      xrayId: null,
      patientId: null,
      clientIp: null,
      userAgent: null,
      requestId: null,
      details: {},
      prevHash: GENESIS_HASH,
    };
    expect(canonicalAuditBytes(first).toString('utf8')).toBe(
      `["xray-audit-v1","42","2026-11-27T08:15:00.123Z",null,[],"xray.download",null,null,"success",null,null,null,{},"${GENESIS_HASH}"]`,
    );
  });

  it('changes when any field changes', () => {
    const base = auditHash(event);
    for (const change of [
      { id: '43' },
      { at: new Date('2026-11-27T08:15:00.124Z') },
      { actorRoles: ['admin', 'doctor'] },
      { outcome: 'failed' },
      { details: { ...event.details, bytes: 101 } },
      { prevHash: 'ac'.repeat(32) },
    ]) {
      expect(auditHash({ ...event, ...change })).not.toBe(base);
    }
  });

  it('canonical JSON sorts members by UTF-16 code units and refuses what JSON cannot hold', () => {
    expect(canonicalJson({ b: [1, 'two', { d: 1, c: 2 }], a: true, B: -0, '\u20ac': 1, '\ud83d\ude00': 2 })).toBe(
      '{"B":0,"a":true,"b":[1,"two",{"c":2,"d":1}],"\u20ac":1,"\ud83d\ude00":2}',
    );
    expect(canonicalJson(1e21)).toBe('1e+21');
    expect(() => canonicalJson(Number.NaN)).toThrow(/non-finite/);
    expect(() => canonicalJson(undefined)).toThrow(/JSON cannot represent/);
  });

  it('makes strings storable before hashing: no NUL, no lone surrogates, no undefined members', () => {
    expect(storableJson({ a: 'x\u0000y', b: '\ud800', c: undefined, d: ['\udc00ok'] })).toEqual({
      a: 'x\ufffdy',
      b: '\ufffd',
      d: ['\ufffdok'],
    });
  });
});
