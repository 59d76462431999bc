// Attack on the HTTP stack changes of session 10 (a9bc468 byFirstSegment, 580b4f4 requestLog).
//
// The "before" is not reasoned about, it is run: this file mocks byFirstSegment so that one server
// is built with the gate (as app.ts is now) and another, on its own database, with every route
// module's router mounted as it was before a9bc468 (Express walks every router). The same requests
// (odd paths, every method, CORS preflights, each kind of actor) go to both, in the same order, and
// each must get the same answer (status, Allow, problem code, CORS, tus headers), leave the same
// audit events and the same one request-log line.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { Writable } from 'node:stream';
import { makePng, sha256Hex } from '@xray/testkit';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ADMIN, DOCTOR, PARAMEDIC, eventsOf } from './audit.support.ts';
import { blobOf, headerActor, postXray, startTestServer, validMetadata, type TestServer } from './harness.ts';
import { type Answer, request } from './container.support.ts';
import { sealed, tusCreate } from './tus-client.ts';

/** While false, createApp mounts every route module's router as it did before a9bc468. */
const gating = vi.hoisted(() => ({ on: true }));

vi.mock('../src/http/route-table.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('../src/http/route-table.ts')>();
  return {
    ...real,
    byFirstSegment: (router: Parameters<typeof real.byFirstSegment>[0]) =>
      gating.on ? real.byFirstSegment(router) : router,
  };
});

const EDGE_ORIGIN = 'https://edge.example.org';
const OTHER_PARAMEDIC = 'para-2; paramedic';
const NO_ROLE = 'nobody; ';

interface LogLine {
  msg: string;
  reqId?: string;
  req?: { url?: string; method?: string };
  res?: { statusCode?: number };
}

function captureLog() {
  const lines: LogLine[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as LogLine);
      done();
    },
  });
  return { lines, log: pino({ level: 'info' }, stream) };
}

/** One request with exactly this request target (fetch would normalise dot segments and more). */
const raw = (base: string, method: string, target: string, headers: Record<string, string>): Promise<Answer> =>
  request(base, { method, target, headers });

/** What a client acts on in an answer (not the message texts, which name the request's path). */
function shapeOf(a: Answer) {
  const type = a.headers['content-type'];
  let code: unknown;
  if (typeof type === 'string' && type.includes('json') && a.body.length) {
    try {
      const body = JSON.parse(a.body.toString('utf8')) as Record<string, unknown>;
      code = body.code ?? body.type;
    } catch {
      code = 'not json';
    }
  }
  const h = a.headers;
  return {
    status: a.status,
    type,
    code,
    allow: h.allow,
    acao: h['access-control-allow-origin'],
    acam: h['access-control-allow-methods'],
    tus: h['tus-resumable'],
    tusVersion: h['tus-version'],
    www: h['www-authenticate'],
    csp: h['content-security-policy'],
    cache: h['cache-control'],
    requestId: h['x-request-id'],
    bodyBytes: a.status === 200 && a.headers['content-type']?.includes('json') ? undefined : a.body.length,
  };
}

describe('byFirstSegment answers every request as the ungated routers did (differential, same requests to both)', () => {
  let gated: TestServer;
  let ungated: TestServer;
  const logs = { gated: captureLog(), ungated: captureLog() };
  const xrayId = randomUUID();
  const uploadId = randomUUID();
  const env = {
    TRUST_PROXY: 'loopback',
    CORS_ALLOWED_ORIGINS: EDGE_ORIGIN,
    AUTH_FAILURE_LIMIT: '1000000',
  };

  beforeAll(async () => {
    gating.on = true;
    gated = await startTestServer('fs', env, { authenticate: headerActor, log: logs.gated.log });
    gating.on = false;
    ungated = await startTestServer('fs', env, { authenticate: headerActor, log: logs.ungated.log });
    gating.on = true;
    const png = makePng({ seed: 1010 });
    for (const s of [gated, ungated]) {
      const res = await postXray(s.url, validMetadata({ id: xrayId }), blobOf(png), { 'X-Test-Actor': PARAMEDIC });
      expect(res.status).toBe(201);
    }
  }, 120_000);
  afterAll(async () => {
    await gated?.close();
    await ungated?.close();
  });

  it('the two servers differ in how they are built (the mock took), not in what they answer', () => {
    const names = (s: TestServer) =>
      (s.app.router as unknown as { stack: { name?: string }[] }).stack.map((l) => l.name);
    expect(names(gated).filter((n) => n === 'gate').length).toBeGreaterThan(5);
    expect(names(ungated).filter((n) => n === 'gate')).toEqual([]);
  });

  it('odd paths × methods × actors: same status, headers, audit events and log line', async () => {
    const X = xrayId;
    const U = uploadId;
    const paths = [
      '/',
      '/nowhere',
      '/xrays',
      '/XRAYS',
      '/Xrays/',
      '/xrays/',
      '//xrays',
      `///xrays/${X}`,
      '/xrays;x',
      `/xrays;x/${X}`,
      '/%78rays',
      `/xr%61ys/${X}`,
      `/xrays/${X}`,
      `/XRAYS/${X.toUpperCase()}`,
      `/xrays/${X}/`,
      `/xrays//${X}`,
      `/xrays/${X}//`,
      `/xrays/${X}/download`,
      `/XRAYS/${X}/DOWNLOAD`,
      `/xrays/${X}/preview`,
      `/xrays/${X}/nothing`,
      `/xrays/./${X}`,
      `/./xrays/${X}`,
      `/../xrays/${X}`,
      `/xrays/../xrays/${X}`,
      `/xrays%2F${X}`,
      `/xrays/${X}%2Fdownload`,
      `/xrays/${X};v=1`,
      '/xrays?x=1',
      `/xrays/${X}?a=/b`,
      '/xrays%00',
      '/xrays\\x',
      '/changes',
      '/CHANGES/',
      '/changes/x',
      '/audit',
      '/AUDIT',
      '/audit/',
      '/roster',
      '/ROSTER/',
      '/admin',
      '/admin/outbox',
      '/ADMIN/OUTBOX',
      '/admin/devices',
      `/admin/devices/${X}/revoke`,
      '/admin/outbox/1/retry',
      '/devices',
      '/DEVICES/',
      '/devices/self/wipe-report',
      '/Devices/Self/Wipe-Report',
      '/uploads',
      '/UPLOADS',
      '/uploads/',
      '//uploads',
      '/uploads/not-a-uuid',
      `/uploads/${U}`,
      `/Uploads/${U}`,
      `/uploads/${U}/`,
      `/uploads/${U}/x`,
      '/uploads;x',
      '/healthz',
      '/HEALTHZ',
      '/healthz/',
      '/healthz?probe=1',
      '/readyz',
      '/openapi.json',
      '/OPENAPI.JSON',
      '/openapi.json/',
      '/openapi%2Ejson',
      '/keys/upload',
      '/KEYS/UPLOAD',
      '/keys',
      '/edge-config',
      '/dicom-web/studies',
      '/DICOM-WEB/studies',
      '/dicom-web/studies/1.2.3/series',
      '/dicom-web',
      '/.well-known/x',
      '/%',
      '/%zz/xrays',
      '/xrays/%',
      `/x${'/x'.repeat(2000)}`,
      `/${'a'.repeat(6000)}`,
      `/xrays/${'a'.repeat(6000)}`,
      `/${'xrays'.repeat(1000)}`,
      // Asterisk-form (OPTIONS *). Absolute-form targets (GET http://host/xrays) were answered the
      // same by both too, but the test-only OpenAPI response check reads them as undocumented paths.
      '*',
    ];
    const methods = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'PURGE'];
    const actors: (string | undefined)[] = [undefined, NO_ROLE, OTHER_PARAMEDIC, DOCTOR, PARAMEDIC];
    type Case = { method: string; target: string; headers: Record<string, string> };
    const cases: Case[] = [];
    for (const target of paths) {
      for (const actor of actors) {
        for (const method of methods) {
          const headers: Record<string, string> = { 'User-Agent': 'attack-session10/1' };
          if (actor) headers['X-Test-Actor'] = actor;
          if (method === 'PATCH') headers['Content-Type'] = 'application/offset+octet-stream';
          if (method === 'PATCH' || method === 'POST' || method === 'DELETE') headers['Tus-Resumable'] = '1.0.0';
          cases.push({ method, target, headers });
        }
      }
      // A CORS preflight, from the allowed origin and from another one; and an admin read.
      for (const origin of [EDGE_ORIGIN, 'https://evil.example.com']) {
        cases.push({
          method: 'OPTIONS',
          target,
          headers: { Origin: origin, 'Access-Control-Request-Method': 'PATCH' },
        });
        cases.push({ method: 'GET', target, headers: { Origin: origin, 'X-Test-Actor': DOCTOR } });
      }
      cases.push({ method: 'GET', target, headers: { 'X-Test-Actor': ADMIN } });
      cases.push({ method: 'OPTIONS', target, headers: { 'X-Test-Actor': ADMIN } });
    }
    // Last (they change state, the same on both): the owner's and an admin's deletes.
    cases.push({ method: 'DELETE', target: `/XRAYS/${X}/`, headers: { 'X-Test-Actor': ADMIN } });
    cases.push({ method: 'GET', target: `/xrays/${X}`, headers: { 'X-Test-Actor': DOCTOR } });

    const differences: unknown[] = [];
    const ids: string[] = [];
    for (const [n, c] of cases.entries()) {
      const requestId = `s10-${n}`;
      ids.push(requestId);
      const headers = { ...c.headers, 'X-Request-Id': requestId };
      const [a, b] = await Promise.all([
        raw(gated.url, c.method, c.target, headers),
        raw(ungated.url, c.method, c.target, headers),
      ]);
      const sa = shapeOf(a);
      const sb = shapeOf(b);
      if (JSON.stringify(sa) !== JSON.stringify(sb))
        differences.push({
          case: `${c.method} ${c.target.slice(0, 80)} ${JSON.stringify(c.headers)}`,
          gated: sa,
          ungated: sb,
        });
    }
    expect(differences).toEqual([]);

    // The audit trail: the same events (action, outcome, actor, X-ray, denial) for every request.
    const eventsBy = async (s: TestServer) => {
      const { rows } = await s.pool.query<{
        request_id: string;
        action: string;
        outcome: string;
        actor_sub: string | null;
        xray_id: string | null;
        denial: string | null;
        code: string | null;
      }>(
        `SELECT request_id, action, outcome, actor_sub, xray_id::text AS xray_id,
                details->>'denial' AS denial, details->>'code' AS code
           FROM audit_events WHERE request_id LIKE 's10-%' ORDER BY id`,
      );
      const by = new Map<string, string[]>();
      for (const r of rows) {
        const { request_id, ...rest } = r;
        by.set(request_id, [...(by.get(request_id) ?? []), JSON.stringify(rest)]);
      }
      return by;
    };
    const compareAudit = async () => {
      const [ea, eb] = await Promise.all([eventsBy(gated), eventsBy(ungated)]);
      const auditDiff = ids
        .filter((id) => JSON.stringify(ea.get(id) ?? []) !== JSON.stringify(eb.get(id) ?? []))
        .map((id) => {
          const n = Number(id.slice(4));
          const c = cases[n]!;
          return {
            case: `${c.method} ${c.target.slice(0, 80)} ${JSON.stringify(c.headers)}`,
            gated: ea.get(id),
            ungated: eb.get(id),
          };
        });
      return { ea, auditDiff };
    };
    // Audit rows are written after the answer went out: on a busy machine the last ones may take a
    // while, so the trails are compared until they agree (up to 20 s); a difference that stays fails.
    let { ea, auditDiff } = await compareAudit();
    for (let i = 0; i < 80 && auditDiff.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 250));
      ({ ea, auditDiff } = await compareAudit());
    }
    expect(auditDiff).toEqual([]);
    // Something was audited at all (the comparison is not of two empty trails).
    expect(ea.size).toBeGreaterThan(cases.length / 4);

    // One request-log line per request, the same message and status on both.
    const linesBy = (lines: LogLine[]) => {
      const by = new Map<string, string[]>();
      for (const l of lines)
        if (l.reqId?.startsWith('s10-') && l.req)
          by.set(l.reqId, [...(by.get(l.reqId) ?? []), `${l.msg} ${l.res?.statusCode}`]);
      return by;
    };
    const compareLogs = () => {
      const la = linesBy(logs.gated.lines);
      const lb = linesBy(logs.ungated.lines);
      const logDiff = ids.filter((id) => {
        const x = la.get(id) ?? [];
        // /healthz is not logged; every other request exactly once.
        return JSON.stringify(x) !== JSON.stringify(lb.get(id) ?? []) || x.length > 1;
      });
      return { la, lb, logDiff };
    };
    // A line is written when its request's socket closes: the last ones may come late (up to 10 s).
    let { la, lb, logDiff } = compareLogs();
    for (let i = 0; i < 40 && logDiff.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 250));
      ({ la, lb, logDiff } = compareLogs());
    }
    expect(logDiff.map((id) => ({ id, gated: la.get(id), ungated: lb.get(id) }))).toEqual([]);

    // The metrics: every request counted under the same route label and status, refused uploads too.
    const countsOf = async (s: TestServer) => {
      const text = await (await fetch(`${s.metricsUrl}/metrics`)).text();
      return text
        .split('\n')
        .filter(
          (l) => l.startsWith('http_request_duration_seconds_count') || l.startsWith('xray_ingest_rejected_total'),
        )
        .sort();
    };
    const [ma, mb] = await Promise.all([countsOf(gated), countsOf(ungated)]);
    expect(ma.length).toBeGreaterThan(10);
    expect(ma.filter((l) => !mb.includes(l))).toEqual(mb.filter((l) => !ma.includes(l)));
    expect(ma).toEqual(mb);
  }, 600_000);
});

describe('requestLog on the real server: request ids, the audit trail, one line per request', () => {
  let server: TestServer;
  const logs = captureLog();
  const linesOf = (id: string) => logs.lines.filter((l) => l.reqId === id && l.req);
  /** Polls for up to 20 s (a line is written when its socket closes); the assertion after it decides. */
  const waitFor = async (check: () => boolean) => {
    for (let i = 0; i < 2000 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  };

  beforeAll(async () => {
    gating.on = true;
    server = await startTestServer('fs', { TRUST_PROXY: 'loopback' }, { authenticate: headerActor, log: logs.log });
  }, 120_000);
  afterAll(async () => {
    await server?.close();
  });

  it('X-Request-Id: kept when well-formed (up to 128 characters), else a UUID; the answer, the audit row and the log line agree', async () => {
    const long = 'a'.repeat(128);
    const cases: { given: string | string[] | undefined; kept: boolean }[] = [
      { given: long, kept: true },
      { given: `${long}b`, kept: false },
      { given: 'a b', kept: false },
      { given: 'ok.id_1-2', kept: true },
      { given: '', kept: false },
      { given: 'é-non-ascii', kept: false },
      { given: ['dup-1', 'dup-2'], kept: false },
      { given: "x'; DROP TABLE audit_events;--", kept: false },
      { given: undefined, kept: false },
    ];
    for (const { given, kept } of cases) {
      const headers: Record<string, string | string[]> = {
        'X-Test-Actor': NO_ROLE,
        'User-Agent': 'attack-session10/1',
      };
      if (given !== undefined) headers['X-Request-Id'] = given;
      const answer = await new Promise<Answer>((resolve, reject) => {
        const url = new URL(server.url);
        const req = http.request(
          { host: url.hostname, port: url.port, method: 'GET', path: '/xrays', headers, agent: false },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () =>
              resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
            );
          },
        );
        req.on('error', reject);
        req.end();
      });
      // A token with no role lists nothing: a denial, audited.
      expect(answer.status).toBe(403);
      const id = answer.headers['x-request-id'];
      expect(typeof id).toBe('string');
      if (kept) expect(id).toBe(given);
      else expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      const events = await eventsOf(server.pool, id as string);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ action: 'access.denied', actor_sub: 'nobody', request_id: id });
      await waitFor(() => linesOf(id as string).length > 0);
      expect(linesOf(id as string).map((l) => [l.msg, l.res?.statusCode, l.req?.url])).toEqual([
        ['request completed', 403, '/xrays'],
      ]);
    }
  });

  it('/healthz is left out of the log (only as asked exactly); every other probe shape is logged once', async () => {
    const ids = ['/healthz', '/healthz?x=1', '/HEALTHZ', '/healthz/'].map((p, i) => ({
      p,
      id: `hz-${i}-${randomUUID()}`,
    }));
    for (const { p, id } of ids) {
      const res = await fetch(`${server.url}${p}`, { headers: { 'X-Request-Id': id } });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-request-id')).toBe(id);
    }
    await waitFor(() => ids.slice(1).every(({ id }) => linesOf(id).length > 0));
    expect(ids.map(({ id }) => linesOf(id).length)).toEqual([0, 1, 1, 1]);
  });

  it('a tus PATCH the client breaks off: no success in the trail, the line says aborted (not 200), the upload resumes to the same bytes', async () => {
    const plain = makePng({ seed: 1011 });
    const { body, metadata } = await sealed(server.url, plain, { patientId: 'P-S10' });
    const uploadPath = new URL(await tusCreate(server.url, body, metadata, { 'X-Test-Actor': PARAMEDIC })).pathname;

    const cutId = `cut-${randomUUID()}`;
    const half = Math.floor(body.length / 2);
    await new Promise<void>((resolve) => {
      const url = new URL(server.url);
      const req = http.request({
        host: url.hostname,
        port: url.port,
        method: 'PATCH',
        path: uploadPath,
        agent: false,
        headers: {
          'Tus-Resumable': '1.0.0',
          'Upload-Offset': '0',
          'Content-Type': 'application/offset+octet-stream',
          'Content-Length': String(body.length),
          'X-Test-Actor': PARAMEDIC,
          'X-Request-Id': cutId,
        },
      });
      req.on('error', () => resolve());
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve());
      });
      req.write(body.subarray(0, half), () => setTimeout(() => req.destroy(), 200));
    });
    await waitFor(() => linesOf(cutId).length > 0);
    const [line, ...more] = linesOf(cutId);
    expect(more).toEqual([]);
    expect(line?.msg).toBe('request aborted');
    // pino-http logged `statusCode: null` for a request that was never answered; a 200 here would
    // count a broken-off upload as a success on any dashboard that reads the status.
    expect.soft(line?.res?.statusCode, 'the status logged for a request never answered').not.toBe(200);

    await new Promise((r) => setTimeout(r, 300));
    // Nothing in the trail says the broken-off PATCH succeeded.
    const events = await eventsOf(server.pool, cutId);
    expect(events.filter((e) => e.outcome === 'success')).toEqual([]);

    // Resume: where the server stands, then the rest; the X-ray is the bytes sent.
    const head = await fetch(`${server.url}${uploadPath}`, {
      method: 'HEAD',
      headers: { 'Tus-Resumable': '1.0.0', 'X-Test-Actor': PARAMEDIC },
    });
    expect(head.status).toBe(200);
    const offset = Number(head.headers.get('upload-offset'));
    expect(offset).toBeLessThanOrEqual(half);
    const rest = await fetch(`${server.url}${uploadPath}`, {
      method: 'PATCH',
      headers: {
        'Tus-Resumable': '1.0.0',
        'Upload-Offset': String(offset),
        'Content-Type': 'application/offset+octet-stream',
        'X-Test-Actor': PARAMEDIC,
      },
      body: new Uint8Array(body.subarray(offset)),
    });
    expect(rest.status).toBe(204);
    const download = await fetch(`${server.url}/xrays/${metadata.id}/download`, {
      headers: { 'X-Test-Actor': DOCTOR },
    });
    expect(download.status).toBe(200);
    expect(sha256Hex(Buffer.from(await download.arrayBuffer()))).toBe(sha256Hex(plain));
  });
});
