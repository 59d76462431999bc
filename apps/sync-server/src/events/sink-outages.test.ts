import { describe, expect, it } from 'vitest';
import { SinkOutages } from './sink-outages.ts';

describe('SinkOutages', () => {
  it('one failure between successes is not an outage: no probe, nothing to resume', () => {
    const o = new SinkOutages(5000, () => 0);
    expect(o.failed('webhook', true)).toBeUndefined();
    expect(o.succeeded('webhook')).toBe(false);
    expect(o.failed('webhook', true)).toBeUndefined();
    expect(o.succeeded('webhook')).toBe(false);
  });

  it('failures in a row are an outage: one probe per interval, and the next success ends it', () => {
    let t = 0;
    const o = new SinkOutages(5000, () => t);
    expect(o.failed('webhook', true)).toBeUndefined();
    expect(o.failed('webhook', true)).toBe(5000);
    // Others failing meanwhile wait out their own backoff.
    expect(o.failed('webhook', true)).toBeUndefined();
    t = 5001;
    expect(o.failed('webhook', true)).toBe(5000);
    // Another sink is its own matter.
    expect(o.succeeded('amqp')).toBe(false);
    expect(o.succeeded('webhook')).toBe(true);
    expect(o.succeeded('webhook')).toBe(false);
  });

  it('a sink that answers but refuses (counted failures) is never probed faster, yet its recovery resumes', () => {
    const o = new SinkOutages(5000, () => 0);
    expect(o.failed('webhook', false)).toBeUndefined();
    expect(o.failed('webhook', false)).toBeUndefined();
    expect(o.failed('webhook', false)).toBeUndefined();
    expect(o.succeeded('webhook')).toBe(true);
  });
});
