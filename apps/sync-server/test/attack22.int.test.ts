// Attack on issue 22 (reads batched through xray.loader.ts; read events committed by the audit
// batcher, now in one audit_append statement each batch). These attacks failed; the tests keep what a user
// relies on: each caller gets its own X-ray and the policy's answer for it, read-your-writes holds,
// every request leaves exactly one event, what a client sent is what the trail keeps (and the
// chain verifies), and an event the trail refuses fails only its own request.
import { randomUUID } from 'node:crypto';
import { XraySchema } from '@xray/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAuditChain } from '../src/audit/audit.verifier.ts';
import { createXrayLoader } from '../src/xrays/xray.loader.ts';
import { AUDIT_SERVER_ENV, eventsOf, taggedCall, type EventRow } from './audit.support.ts';
import { blockAuditFor, headerActor, startTestServer, storeOwnedXrays, type TestServer } from './harness.ts';

const P1 = 'para-a22-1; paramedic';
const P2 = 'para-a22-2; paramedic';
const DOCTOR = 'doc-a22; doctor';
const ADMIN = 'admin-a22; admin';
const NO_ROLE = 'nobody-a22; ';

interface Stored {
  id: string;
  patientId: string;
  owner: string;
}

describe('attack 22: batched reads and batched read events', () => {
  let server: TestServer;
  const stored: Stored[] = [];

  const call = (path: string, actor: string | undefined, init: RequestInit = {}) =>
    taggedCall(server.url, path, actor, init, 'a22-');

  beforeAll(async () => {
    server = await startTestServer('fs', AUDIT_SERVER_ENV, { authenticate: headerActor });
    stored.push(...(await storeOwnedXrays(server.url, [P1, P1, P1, P2, P2, P2], { prefix: 'P-A22', seed: 2200 })));
  });
  afterAll(async () => {
    await server?.close();
  });

  it('a burst of reads by different users: each gets its own X-ray or the policy answer for it, and one event', async () => {
    const deletedId = stored[5]!.id;
    expect((await call(`/xrays/${deletedId}`, ADMIN, { method: 'DELETE' })).res.status).toBe(204);
    const live = stored.slice(0, 5);
    const actors = [P1, P2, DOCTOR, ADMIN, NO_ROLE];
    type Case = { actor: string; id: string; want: Stored | null; status: number; action: string; outcome: string };
    const cases: Case[] = [];
    for (let i = 0; i < 150; i++) {
      const actor = actors[i % actors.length]!;
      const x = live[i % live.length]!;
      // Upper case now and then, the deleted one and a never-stored one too.
      const pick =
        i % 11 === 0
          ? { id: deletedId, want: null }
          : i % 13 === 0
            ? { id: randomUUID(), want: null }
            : { id: x.id, want: x };
      const id = i % 3 === 0 ? pick.id.toUpperCase() : pick.id;
      if (actor === NO_ROLE) {
        cases.push({ actor, id, want: null, status: 403, action: 'access.denied', outcome: 'denied' });
      } else if (!pick.want) {
        cases.push({ actor, id, want: null, status: 404, action: 'xray.read', outcome: 'failed' });
      } else if (actor.includes('paramedic') && pick.want.owner !== actor) {
        // Another paramedic's X-ray: the policy's 404, on the trail as a denial.
        cases.push({ actor, id, want: null, status: 404, action: 'access.denied', outcome: 'denied' });
      } else {
        cases.push({ actor, id, want: pick.want, status: 200, action: 'xray.read', outcome: 'success' });
      }
    }
    const answers = await Promise.all(cases.map((c) => call(`/xrays/${c.id}`, c.actor)));
    const wrong: string[] = [];
    for (const [i, { res, requestId, text }] of answers.entries()) {
      const c = cases[i]!;
      if (res.status !== c.status) wrong.push(`${c.actor} ${c.id}: ${res.status} (want ${c.status})`);
      if (c.want) {
        const x = XraySchema.parse(JSON.parse(text));
        if (x.id !== c.want.id || x.patientId !== c.want.patientId) wrong.push(`${c.actor} ${c.id}: got ${x.id}`);
      } else if (text.includes('patientId') || stored.some((s) => text.includes(s.patientId))) {
        wrong.push(`${c.actor} ${c.id}: refusal names a patient: ${text}`);
      }
      const events = await eventsOf(server.pool, requestId);
      const [e] = events;
      if (
        events.length !== 1 ||
        e?.action !== c.action ||
        e.outcome !== c.outcome ||
        e.xray_id !== c.id.toLowerCase() ||
        e.actor_sub !== c.actor.split(';')[0]
      )
        wrong.push(`${c.actor} ${c.id}: events ${JSON.stringify(events)}`);
    }
    expect(wrong).toEqual([]);
  });

  it('more reads at once than one batch holds (maxBatchSize 200), duplicates and case twins among them, each get their own', async () => {
    const load = createXrayLoader(server.pool);
    const live = stored.slice(0, 5);
    // One in flight, so the rest pile up behind it into batches of 200.
    const first = load(live[0]!.id);
    await new Promise((resolve) => setImmediate(resolve));
    const asked = Array.from({ length: 450 }, (_, i) => {
      if (i % 17 === 0) return { id: randomUUID(), want: null };
      const x = live[i % live.length]!;
      return { id: i % 2 ? x.id.toUpperCase() : x.id, want: x };
    });
    const got = await Promise.all(asked.map((a) => load(a.id)));
    expect((await first)?.id).toBe(live[0]!.id);
    const wrong = asked.flatMap((a, i) => {
      const x = got[i];
      return (a.want ? x?.id === a.want.id && x.patientId === a.want.patientId : x === null)
        ? []
        : [`${a.id}: ${x?.id ?? 'null'}`];
    });
    expect(wrong).toEqual([]);
  });

  it('a correction or deletion answered is seen by the next read, while other reads keep batches in flight', async () => {
    const [target, victim] = [stored[0]!, stored[1]!];
    let stop = false;
    const noise = (async () => {
      while (!stop) {
        await Promise.all(stored.slice(2, 5).map((s) => call(`/xrays/${s.id}`, DOCTOR)));
      }
    })();
    try {
      for (let n = 0; n < 4; n++) {
        const notes = `a22 ${n} ${randomUUID()}`;
        const patched = await call(`/xrays/${target.id}`, DOCTOR, {
          method: 'PATCH',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ notes }),
        });
        expect(patched.res.status, patched.text).toBe(200);
        // Two reads at once right after: both in one batch, both see the correction.
        const [a, b] = await Promise.all([call(`/xrays/${target.id}`, P1), call(`/xrays/${target.id}`, DOCTOR)]);
        expect(XraySchema.parse(JSON.parse(a.text)).notes).toBe(notes);
        expect(XraySchema.parse(JSON.parse(b.text)).notes).toBe(notes);
      }
      expect((await call(`/xrays/${victim.id}`, DOCTOR)).res.status).toBe(200);
      expect((await call(`/xrays/${victim.id}`, ADMIN, { method: 'DELETE' })).res.status).toBe(204);
      const after = await Promise.all([
        call(`/xrays/${victim.id}`, DOCTOR),
        call(`/xrays/${victim.id}/download`, DOCTOR),
        call(`/xrays/${victim.id}/preview`, P1),
      ]);
      expect(after.map((a) => a.res.status)).toEqual([404, 404, 404]);
    } finally {
      stop = true;
      await noise;
    }
  });

  it('hostile strings in every field a client controls are stored as sent (by the batch writer) and the chain verifies', async () => {
    const x = stored[2]!;
    // Latin-1 bytes (not UTF-8) arrive as U+0080..U+00FF; C1 controls in a User-Agent become U+FFFD.
    const hostile = (n: number) => `h${n} '' \\' \\\\ "q" $$ $1 E'\\x41' ); COMMIT; -- \u00ff\u00e9`;
    const ua = (n: number) => `${hostile(n)} \u0085end`;
    const uaStored = (n: number) => `${hostile(n)} \uFFFDend`;
    const sub = (n: number) => `sub-${hostile(n)}`.replaceAll(';', ':');
    const role = `doctor`;
    const odd = `r'\\$$,`.replaceAll(',', '');
    const longValue = `${'v'.repeat(255)}\u{1F600}tail`;
    const qido = new URLSearchParams();
    // Keywords the index does not match on take any value (ignored, yet kept in the trail).
    const patientId = `P'"$$-${randomUUID()}`;
    qido.append('InstitutionName', `v'); COMMIT; --\\`);
    qido.append('PatientID', patientId);
    qido.append('OperatorsName', longValue);
    const query = `${qido.toString()}&StationName=a%00b&Manufacturer=%FF%FE`;

    const sent = await Promise.all(
      Array.from({ length: 40 }, async (_, n) => {
        const headers = {
          'User-Agent': ua(n),
          'X-Test-Actor': `${sub(n)}; ${role}, ${odd}`,
          'X-Forwarded-For': `'); DROP TABLE audit_events; -- \\${n}`,
        };
        const r =
          n % 2
            ? await call(`/xrays/${x.id}`, undefined, { headers })
            : await call(`/dicom-web/studies?${query}`, undefined, {
                headers: { ...headers, Accept: 'application/dicom+json' },
              });
        return { n, ...r };
      }),
    );
    const wrong: string[] = [];
    const byAt = new Map<number, number>();
    for (const { n, res, requestId, text } of sent) {
      if (res.status !== 200) wrong.push(`${n}: ${res.status} ${text}`);
      const events: EventRow[] = await eventsOf(server.pool, requestId);
      if (events.length !== 1) {
        wrong.push(`${n}: ${events.length} events`);
        continue;
      }
      const e = events[0]!;
      const { rows } = await server.pool.query<{ at: Date }>('SELECT at FROM audit_events WHERE id = $1', [e.id]);
      const at = rows[0]!.at.getTime();
      byAt.set(at, (byAt.get(at) ?? 0) + 1);
      const want: Partial<EventRow> = {
        actor_sub: sub(n).trim(),
        actor_roles: [role, odd],
        user_agent: uaStored(n),
        client_ip: `'); DROP TABLE audit_events; -- \\${n}`,
        request_id: requestId,
        action: n % 2 ? 'xray.read' : 'xray.list',
      };
      expect(e).toMatchObject(want);
      if (!(n % 2)) {
        expect(e.patient_id).toBe(patientId);
        expect(e.details.query).toEqual({
          InstitutionName: `v'); COMMIT; --\\`,
          PatientID: patientId,
          // Cut at 256 UTF-16 units, through the emoji's surrogate pair: the half kept is U+FFFD.
          OperatorsName: `${'v'.repeat(255)}\uFFFD`,
          StationName: 'a\uFFFDb',
          Manufacturer: '\uFFFD\uFFFD',
        });
      }
    }
    expect(wrong).toEqual([]);
    // The burst went through the batch writer several events at a time (one batch: one `at`).
    expect(Math.max(...byAt.values())).toBeGreaterThan(1);
    expect(await verifyAuditChain(server.pool, { batchSize: 50 })).toMatchObject({ ok: true });
  });

  it('an event the trail refuses inside a batch fails only its own request; the others are committed once', async () => {
    const [blocked, ...others] = stored.slice(2, 5);
    const unblock = await blockAuditFor(server, blocked!.patientId);
    let answers: { want: number; res: Response; requestId: string; text: string }[];
    try {
      answers = await Promise.all(
        Array.from({ length: 40 }, async (_, i) => {
          const x = i % 4 === 0 ? blocked! : others[i % others.length]!;
          const r = await call(i % 2 ? `/xrays/${x.id}` : `/xrays/${x.id}/download`, DOCTOR);
          return { want: x === blocked ? 500 : 200, ...r };
        }),
      );
    } finally {
      await unblock();
    }
    const wrong: string[] = [];
    for (const { want, res, requestId, text } of answers) {
      const events = await eventsOf(server.pool, requestId);
      if (res.status !== want) wrong.push(`${requestId}: ${res.status} (want ${want})`);
      if (want === 500) {
        // Nothing of the X-ray goes out unaudited.
        if (text.includes(blocked!.patientId) || !res.headers.get('content-type')?.includes('problem+json'))
          wrong.push(`${requestId}: disclosed ${text.slice(0, 80)}`);
        if (events.length !== 0) wrong.push(`${requestId}: ${events.length} events of a refused read`);
      } else if (events.length !== 1 || events[0]?.outcome !== 'success') {
        wrong.push(`${requestId}: ${JSON.stringify(events)}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(await verifyAuditChain(server.pool, { batchSize: 50 })).toMatchObject({ ok: true });
  });
});
