import { describe, expect, it } from 'vitest';
import { DrainClock } from '../src/drain-clock.ts';

describe('online → queue empty (the drain clock)', () => {
  it('runs from coming back online with a queue to the queue being empty', () => {
    const c = new DrainClock();
    c.os(false, 0, 2);
    expect(c.sample(5, 0)).toBeUndefined(); // offline: nothing measured
    c.os(true, 10, 2);
    expect(c.sample(20, 1)).toBeUndefined();
    expect(c.sample(30, 0)).toBe(20);
    expect(c.sample(40, 0)).toBeUndefined(); // once
  });

  it('does not count the time in a dead zone the OS did not report, and measures from its end', () => {
    const c = new DrainClock();
    c.os(false, 0, 1);
    c.os(true, 100, 1); // back online with a queue: the clock starts
    c.link(false, 110, 1); // a silent dead zone: the OS still says online
    expect(c.sample(150, 0)).toBeUndefined();
    c.link(true, 170, 1); // the link is back: from here
    expect(c.sample(185, 0)).toBe(15); // not 85, which counted the dead zone
  });

  it('measures a queue that filled during a silent dead zone, from the link coming back', () => {
    const c = new DrainClock();
    c.link(false, 0, 0);
    c.link(true, 50, 3); // captures taken in the dead zone
    expect(c.sample(80, 0)).toBe(30);
  });

  it('restarts on a boot with a queue; a kill or a boot while unreachable stops it', () => {
    const c = new DrainClock();
    c.os(false, 0, 1);
    c.os(true, 10, 1);
    c.kill();
    expect(c.sample(15, 0)).toBeUndefined();
    c.boot(20, 1);
    expect(c.sample(50, 0)).toBe(30);

    c.kill();
    c.link(false, 60, 1);
    c.boot(70, 1); // restarted in a dead zone: nothing yet
    expect(c.sample(75, 0)).toBeUndefined();
    c.link(true, 90, 1);
    expect(c.sample(95, 0)).toBe(5);

    c.kill();
    c.os(false, 100, 1);
    c.os(true, 110, 1); // back online while killed: the boot starts the clock, not this
    c.boot(130, 1);
    expect(c.sample(140, 0)).toBe(10);
  });

  it('does not start for a device that comes online with nothing queued', () => {
    const c = new DrainClock();
    c.os(false, 0, 0);
    c.os(true, 10, 0);
    expect(c.sample(20, 0)).toBeUndefined();
  });
});
