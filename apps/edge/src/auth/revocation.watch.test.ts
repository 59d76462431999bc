import { afterEach, describe, expect, it } from 'vitest';
import { RosterStore } from '../capture/roster.store.ts';
import { EdgeDb } from '../db/edge.db.ts';
import { createSentLinks } from '../sync/sent-link.ts';
import { watchRevocation } from './revocation.watch.ts';

let db: EdgeDb | undefined;
afterEach(async () => {
  await db?.delete();
  db = undefined;
});

/** An RFC 9457 problem as the sync server sends it. */
const problem = (status: number, code: string, detail?: string) => ({
  type: `https://xray.example/problems/${code}`,
  title: 'Unauthorized',
  status,
  code,
  ...(detail ? { detail } : {}),
});

const answer = (status: number, body?: unknown) => async () =>
  new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/problem+json' },
  });

describe('device_revoked from the REST clients (roster, sent links, enrollment)', () => {
  it("starts the wipe with the server's reason and passes the answer on unread", async () => {
    const reasons: string[] = [];
    const f = watchRevocation(
      (r) => reasons.push(r),
      answer(401, problem(401, 'device_revoked', 'This device has been revoked by an administrator.')),
    );
    const res = await f('https://xray.example/roster');
    expect(reasons).toEqual(['This device has been revoked by an administrator.']);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ code: 'device_revoked' });
  });

  it('does not wipe on any other refusal or answer', async () => {
    const reasons: string[] = [];
    for (const a of [
      answer(401, problem(401, 'unauthenticated', 'expired')),
      answer(401, problem(401, 'dpop_invalid')),
      answer(403, problem(403, 'device_revoked')),
      answer(401),
      answer(200, { items: [] }),
    ])
      await watchRevocation((r) => reasons.push(r), a)('https://xray.example/roster');
    expect(reasons).toEqual([]);
  });

  it('a revoked tablet with nothing left to send wipes at its roster refresh or a sent-link check', async () => {
    db = new EdgeDb(`revoked-${crypto.randomUUID()}`);
    const reasons: string[] = [];
    const revoked = watchRevocation(
      (r) => reasons.push(r),
      answer(401, problem(401, 'device_revoked', 'Revoked: reported stolen.')),
    );
    const authorize = async () => ({ Authorization: 'DPoP t', DPoP: 'p' });
    await new RosterStore({ db, baseUrl: 'https://xray.example', authorize, fetch: revoked }).refresh();
    await createSentLinks({ db, baseUrl: 'https://xray.example', authorize, fetch: revoked })
      .check(crypto.randomUUID())
      .catch(() => undefined);
    expect(reasons).toEqual(['Revoked: reported stolen.', 'Revoked: reported stolen.']);
  });
});
