import { describe, expect, it } from 'vitest';
import { judge, type Evidence } from '../src/checks.ts';

const A = '00000000-0000-4000-8000-00000000000a';
const B = '00000000-0000-4000-8000-00000000000b';
const shaA = 'a'.repeat(64);
const shaB = 'b'.repeat(64);

/** A run where everything went right: two captures, each stored once, its event delivered to both sinks. */
function good(): Evidence {
  return {
    captured: [
      { id: A, sha256: shaA },
      { id: B, sha256: shaB },
    ],
    duplicateCaptureIds: [],
    stored: [
      { id: A, sha256: shaA },
      { id: B, sha256: shaB },
    ],
    downloads: new Map([
      [A, shaA],
      [B, shaB],
    ]),
    needsAttention: [],
    fleetErrors: [],
    events: [
      { id: 'e1', type: 'xray.uploaded', xrayId: A },
      { id: 'e2', type: 'xray.uploaded', xrayId: B },
    ],
    undelivered: 0,
    webhook: new Map([
      ['e1', 1],
      ['e2', 2],
    ]),
    amqp: new Map([
      ['e1', 1],
      ['e2', 1],
    ]),
    audit: { exitCode: 0, output: 'audit chain verified' },
    leftovers: { uploadRows: 0, multipartUploads: 0, strayObjects: [] },
  };
}

const failed = (e: Evidence): string[] =>
  judge(e)
    .filter((c) => !c.ok)
    .map((c) => c.name);

describe('soak checks', () => {
  it('pass a run where nothing was lost, doubled or altered (a duplicate delivery by id is allowed and counted)', () => {
    const checks = judge(good());
    expect(checks.filter((c) => !c.ok)).toEqual([]);
    expect(checks.find((c) => c.name === 'every event id at the Doctor Service (webhook)')?.detail).toContain(
      '1 duplicate deliveries',
    );
  });

  it('fail on a lost X-ray', () => {
    expect(failed({ ...good(), stored: [{ id: A, sha256: shaA }], downloads: new Map([[A, shaA]]) })).toEqual([
      'every capture stored once',
    ]);
  });

  it('fail on a doubled X-ray: two rows, or one id captured twice', () => {
    expect(failed({ ...good(), stored: [...good().stored, { id: A, sha256: shaA }] })).toContain(
      'every capture stored once',
    );
    expect(failed({ ...good(), duplicateCaptureIds: [A] })).toContain('every capture stored once');
  });

  it('fail on an X-ray the devices never captured', () => {
    const extra = '00000000-0000-4000-8000-00000000000c';
    expect(failed({ ...good(), stored: [...good().stored, { id: extra, sha256: shaA }] })).toContain(
      'every capture stored once',
    );
  });

  it('fail on altered bytes: a recorded sha256 or a download that differs', () => {
    expect(failed({ ...good(), stored: [{ id: A, sha256: shaB }, good().stored[1]!] })).toContain(
      'recorded sha256 equals the capture’s',
    );
    expect(
      failed({
        ...good(),
        downloads: new Map([
          [A, shaA],
          [B, shaA],
        ]),
      }),
    ).toEqual(['downloaded bytes sha256-equal']);
  });

  it('fail on a missing event id at either sink, an X-ray without its event, and undelivered outbox rows', () => {
    expect(failed({ ...good(), events: [good().events[0]!] })).toEqual(['an xray.uploaded event per X-ray']);
    expect(failed({ ...good(), webhook: new Map([['e1', 1]]) })).toEqual([
      'every event id at the Doctor Service (webhook)',
    ]);
    expect(failed({ ...good(), amqp: new Map([['e2', 3]]) })).toEqual(['every event id on RabbitMQ']);
    expect(failed({ ...good(), undelivered: 1 })).toEqual(['outbox delivered']);
  });

  it('fail when the audit chain does not verify', () => {
    expect(failed({ ...good(), audit: { exitCode: 1, output: 'chain broken at event 17' } })).toEqual([
      'xray-admin verify-audit',
    ]);
  });

  it('fail on leftovers after expiry, captures needing attention, and queues that never emptied', () => {
    expect(failed({ ...good(), leftovers: { uploadRows: 1, multipartUploads: 0, strayObjects: [] } })).toEqual([
      'no upload leftovers after expiry',
    ]);
    expect(failed({ ...good(), leftovers: { uploadRows: 0, multipartUploads: 1, strayObjects: ['x.part'] } })).toEqual([
      'no upload leftovers after expiry',
    ]);
    expect(failed({ ...good(), needsAttention: [`${A}: 400`] })).toEqual(['no capture needs attention']);
    expect(failed({ ...good(), notDrained: 3 })).toEqual(['every queue drained']);
  });
});
