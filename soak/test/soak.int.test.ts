import { describe, expect, it } from 'vitest';
import { runSoak } from '../src/run.ts';

// The short soak inside `npm test`: 10 devices capture for 3 minutes (2–8 MB DICOMs) on bad links
// while every scheduled fault strikes once; then the queues drain and everything is checked.
describe('soak (3 minutes, 10 devices, every fault)', () => {
  it('loses, doubles and alters no X-ray; every event id is delivered; the audit chain verifies', async () => {
    const result = await runSoak({
      durationMs: 3 * 60_000,
      devices: 10,
      minBytes: 2e6,
      maxBytes: 8e6,
      meanCaptureIntervalMs: 20_000,
      urgentShare: 0.25,
      seed: 20,
      downloadAll: true,
      drainTimeoutMs: 10 * 60_000,
      tusExpiryMs: 120_000,
      // Then real faults in the stack (a row deleted, an X-ray stored twice, bytes altered, events
      // lost, the audit trail edited…) and the checks again: each must be seen.
      tamper: true,
      log: (line) => console.log(line),
    });

    const failed = result.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
    expect(failed).toEqual([]);
    expect(result.checks.map((c) => c.name)).toEqual(
      expect.arrayContaining([
        'every capture stored once',
        'recorded sha256 equals the capture’s',
        'downloaded bytes sha256-equal',
        'one xray.uploaded event per X-ray',
        'every event id at the Doctor Service (webhook)',
        'every event id on RabbitMQ',
        'xray-admin verify-audit',
        'an audit event for every X-ray stored',
        'no upload leftovers after expiry',
      ]),
    );
    // The checks saw every fault put in after them: a lost, a doubled and two altered X-rays, a
    // missing event, an event never delivered, an edited audit trail, a stray object.
    expect(result.tampered?.applied.map((a) => a.check)).toEqual([
      'every capture stored once',
      'every capture stored once',
      'recorded sha256 equals the capture’s',
      'downloaded bytes sha256-equal',
      'one xray.uploaded event per X-ray',
      'every event id at the Doctor Service (webhook)',
      'every event id on RabbitMQ',
      'xray-admin verify-audit',
      'no upload leftovers after expiry',
    ]);
    expect(result.tampered?.missed).toEqual([]);
    // Every fault happened.
    expect(new Set(result.faults.map((f) => f.name))).toEqual(
      new Set([
        'webhook answers 500',
        'sync server killed (SIGKILL)',
        'PostgreSQL backends terminated',
        'RabbitMQ restart',
        'Patient Service down',
        'PostgreSQL restarted',
      ]),
    );
    expect(result.faults.filter((f) => f.name === 'sync server killed (SIGKILL)').map((f) => f.detail)).toEqual([
      'sync-b',
      'sync-a',
    ]);
    expect(result.figures.kills).toBeGreaterThan(0);
    expect(result.figures.offlinePeriods).toBeGreaterThan(0);
    expect(
      result.figures.proxy.resets + result.figures.proxy.halfCloses + result.figures.proxy.blackholes,
    ).toBeGreaterThan(0);
    expect(result.figures.captures).toBeGreaterThan(20);
    expect(result.figures.urgent).toBeGreaterThan(0);
  });
});
