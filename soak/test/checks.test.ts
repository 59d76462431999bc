import { describe, expect, it } from 'vitest';
import { judge, missedTampering, type Evidence } from '../src/checks.ts';

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
    auditCreated: [
      { xrayId: A, sha256: shaA },
      { xrayId: B, sha256: shaB },
    ],
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
    const lostB = { stored: [{ id: A, sha256: shaA }], downloads: new Map([[A, shaA]]) };
    // Never stored: no row, no event, nothing audited.
    expect(
      failed({ ...good(), ...lostB, events: [good().events[0]!], auditCreated: [{ xrayId: A, sha256: shaA }] }),
    ).toEqual(['every capture stored once']);
    // Lost after the server recorded it: its event and its audited creation name an X-ray not there.
    expect(failed({ ...good(), ...lostB })).toEqual([
      'every capture stored once',
      'one xray.uploaded event per X-ray',
      'an audit event for every X-ray stored',
    ]);
  });

  it('fail on a run with no captures at all, and on errors in the fleet (a capture that could not be taken)', () => {
    const empty: Evidence = {
      ...good(),
      captured: [],
      stored: [],
      downloads: new Map(),
      events: [],
      webhook: new Map(),
      amqp: new Map(),
      auditCreated: [],
    };
    expect(failed(empty)).toEqual(['every capture stored once']);
    expect(failed({ ...good(), fleetErrors: ['capture: DatabaseClosedError'] })).toEqual(['no fleet errors']);
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
    // A download that failed (the object gone or unreadable) and one never made.
    expect(
      failed({
        ...good(),
        downloads: new Map([
          [A, shaA],
          [B, 'HTTP 500'],
        ]),
      }),
    ).toEqual(['downloaded bytes sha256-equal']);
    expect(failed({ ...good(), downloads: new Map([[A, shaA]]) })).toEqual(['downloaded bytes sha256-equal']);
  });

  it('fail on a missing event id at either sink, an X-ray without its event, and undelivered outbox rows', () => {
    expect(failed({ ...good(), events: [good().events[0]!] })).toEqual(['one xray.uploaded event per X-ray']);
    expect(failed({ ...good(), webhook: new Map([['e1', 1]]) })).toEqual([
      'every event id at the Doctor Service (webhook)',
    ]);
    expect(failed({ ...good(), amqp: new Map([['e2', 3]]) })).toEqual(['every event id on RabbitMQ']);
    expect(failed({ ...good(), undelivered: 1 })).toEqual(['outbox delivered']);
  });

  it('fail on an X-ray uploaded twice in the events: a second id for the same X-ray does not de-duplicate', () => {
    const events = [...good().events, { id: 'e3', type: 'xray.uploaded', xrayId: A }];
    const webhook = new Map([...good().webhook, ['e3', 1]]);
    const amqp = new Map([...good().amqp, ['e3', 1]]);
    expect(failed({ ...good(), events, webhook, amqp })).toEqual(['one xray.uploaded event per X-ray']);
    // Other events about an X-ray (a link found invalid, say) are not a second upload.
    const other = [...good().events, { id: 'e4', type: 'xray.link-invalid', xrayId: A }];
    expect(
      failed({
        ...good(),
        events: other,
        webhook: new Map([...webhook, ['e4', 1]]),
        amqp: new Map([...amqp, ['e4', 1]]),
      }),
    ).toEqual([]);
  });

  it('fail when the audit trail does not record an X-ray’s creation, even though the chain verifies', () => {
    // An empty trail verifies (verify-audit: "OK: the audit trail is empty").
    expect(
      failed({ ...good(), audit: { exitCode: 0, output: 'OK: the audit trail is empty' }, auditCreated: [] }),
    ).toEqual(['an audit event for every X-ray stored']);
    expect(failed({ ...good(), auditCreated: [{ xrayId: A, sha256: shaA }] })).toEqual([
      'an audit event for every X-ray stored',
    ]);
    expect(failed({ ...good(), auditCreated: [...good().auditCreated, { xrayId: A, sha256: shaA }] })).toEqual([
      'an audit event for every X-ray stored',
    ]);
    expect(
      failed({
        ...good(),
        auditCreated: [
          { xrayId: A, sha256: shaB },
          { xrayId: B, sha256: shaB },
        ],
      }),
    ).toEqual(['an audit event for every X-ray stored']);
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

  it('a tampering counts as seen only when its check fails and names what was tampered with', () => {
    const lostB = judge({ ...good(), stored: [{ id: A, sha256: shaA }], downloads: new Map([[A, shaA]]) });
    const t = { name: 'B deleted', check: 'every capture stored once', names: B };
    expect(missedTampering([t], lostB)).toEqual([]);
    expect(missedTampering([t], judge(good()))).toEqual(['B deleted (every capture stored once)']);
    expect(missedTampering([{ ...t, names: 'another id' }], lostB)).toEqual(['B deleted (every capture stored once)']);
    expect(missedTampering([{ ...t, check: 'no such check' }], lostB)).toHaveLength(1);
    // Named among the ids at fault even when the detail lists only the first five.
    const many = Array.from({ length: 8 }, (_, i) => `xrays/stray-${i}`);
    const strays = judge({ ...good(), leftovers: { uploadRows: 0, multipartUploads: 0, strayObjects: many } });
    const leftover = strays.find((c) => c.name === 'no upload leftovers after expiry')!;
    expect(leftover.detail).not.toContain('xrays/stray-7');
    expect(missedTampering([{ name: 'stray put', check: leftover.name, names: 'xrays/stray-7' }], strays)).toEqual([]);
  });
});
