import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { classify } from './problem.ts';

const reset = () => Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
const request = (state: { readableAborted: boolean; destroyed: boolean }) =>
  ({ readableAborted: state.readableAborted, socket: { destroyed: state.destroyed } }) as unknown as IncomingMessage;

describe('classify: a reset is the client leaving only when the client left', () => {
  it('the client reset its own connection: 499 client_closed', () => {
    expect(classify(reset(), request({ readableAborted: true, destroyed: true })).code).toBe('client_closed');
    expect(classify(reset(), request({ readableAborted: false, destroyed: true })).code).toBe('client_closed');
  });

  it("a reset of the server's own connection (PostgreSQL restarting) while the client waits: 503, try again", () => {
    const problem = classify(reset(), request({ readableAborted: false, destroyed: false }));
    expect(problem.code).toBe('unavailable');
    expect(problem.message).toMatch(/Try again/);
  });
});
