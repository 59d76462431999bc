// The audit trail's integrity: an event commits with its change, the table is append-only, and
// the hash chain (one across instances) verifies against its signed checkpoint or names the first
// broken event.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { makePng } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditHash } from '../src/audit/audit.hash.ts';
import { appendAuditBatch, systemContext } from '../src/audit/audit.service.ts';
import { verifyAuditChain } from '../src/audit/audit.verifier.ts';
import {
  ADMIN,
  AUDIT_SERVER_ENV,
  DOCTOR,
  PARAMEDIC,
  auditCalls,
  countEvents,
  eventsOf,
  idOf,
  verifyAuditCli,
} from './audit.support.ts';
import {
  blobOf,
  blockAuditFor,
  headerActor,
  postXray,
  startTestServer,
  validMetadata,
  type TestServer,
} from './harness.ts';
import { spawnServer, type ServerProcess } from './server-process.ts';

const eventsOfIds = async (pool: pg.Pool, ids: string[]) =>
  (
    await pool.query<{ id: string; actor_roles: string[]; patient_id: string | null }>(
      'SELECT id::text AS id, actor_roles, patient_id FROM audit_events WHERE id = ANY($1::bigint[]) ORDER BY id',
      [ids],
    )
  ).rows;

describe('audit trail: integrity', () => {
  let server: TestServer;
  const { call } = auditCalls(() => server);

  beforeAll(async () => {
    server = await startTestServer('fs', AUDIT_SERVER_ENV, { authenticate: headerActor });
    // Rows for the append-only test to refuse touching: a stored X-ray's events and a denial.
    const stored = await postXray(server.url, validMetadata(), blobOf(makePng({ seed: 24 })), {
      'X-Test-Actor': PARAMEDIC,
    });
    expect(stored.status).toBe(201);
    expect((await call(`/xrays/${randomUUID()}`, undefined)).res.status).toBe(401);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('a change and its audit event commit together, and nothing is read unaudited', async () => {
    const blocked = `P-BLOCK-${randomUUID().slice(0, 6)}`;
    const kept = await postXray(server.url, validMetadata({ patientId: blocked }), blobOf(makePng({ seed: 22 })), {
      'X-Test-Actor': PARAMEDIC,
    });
    expect(kept.status).toBe(201);
    const keptId = await idOf(kept);
    // From here on the trail refuses every event about this patient, as a broken audit store would.
    const unblock = await blockAuditFor(server, blocked);
    try {
      const id = randomUUID();
      const create = await postXray(
        server.url,
        validMetadata({ id, patientId: blocked }),
        blobOf(makePng({ seed: 23 })),
        {
          'X-Test-Actor': PARAMEDIC,
        },
      );
      expect(create.status).toBe(500);
      expect((await server.pool.query('SELECT 1 FROM xrays WHERE id = $1', [id])).rows).toHaveLength(0);

      expect((await call(`/xrays/${keptId}`, ADMIN, { method: 'DELETE' })).res.status).toBe(500);
      expect((await server.pool.query('SELECT 1 FROM xrays WHERE id = $1', [keptId])).rows).toHaveLength(1);

      expect((await call(`/xrays/${keptId}`, DOCTOR)).res.status).toBe(500);
      const download = await call(`/xrays/${keptId}/download`, DOCTOR);
      expect(download.res.status).toBe(500);
      expect(download.res.headers.get('content-type')).toContain('application/problem+json');
    } finally {
      await unblock();
    }
    expect((await call(`/xrays/${keptId}`, ADMIN, { method: 'DELETE' })).res.status).toBe(204);
  });

  it('the table is append-only: UPDATE, DELETE and TRUNCATE are refused to the application role, and by the trigger even to a superuser', async () => {
    const before = await countEvents(server.pool);
    // The server's own pool is the application's role: INSERT and SELECT only, and not the owner.
    await expect(
      server.pool.query(`UPDATE audit_events SET outcome = 'success' WHERE outcome = 'denied'`),
    ).rejects.toThrow(/permission denied for table audit_events/);
    await expect(server.pool.query('DELETE FROM audit_events WHERE xray_id IS NOT NULL')).rejects.toThrow(
      /permission denied for table audit_events/,
    );
    await expect(server.pool.query('TRUNCATE audit_events')).rejects.toThrow(
      /permission denied for table audit_events/,
    );
    await expect(
      server.pool.query('ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete'),
    ).rejects.toThrow(/must be owner of table audit_events/);

    const superuser = new pg.Pool({ connectionString: server.env.DATABASE_URL, max: 1 });
    try {
      await expect(
        superuser.query(`UPDATE audit_events SET outcome = 'success' WHERE outcome = 'denied'`),
      ).rejects.toThrow(/append-only: UPDATE/);
      await expect(superuser.query('DELETE FROM audit_events WHERE xray_id IS NOT NULL')).rejects.toThrow(
        /append-only: DELETE/,
      );
      await expect(superuser.query('TRUNCATE audit_events')).rejects.toThrow(/append-only: TRUNCATE/);
    } finally {
      await superuser.end();
    }
    expect(await countEvents(server.pool)).toBe(before);
  });

  it('a read batch keeps every character a client sent, quotes and backslashes included, and the chain verifies', async () => {
    // Read events are appended by one SQL function that hashes them: what is stored, and hashed,
    // must be what was sent, whatever its quoting, and the hash the one verify-audit recomputes.
    const agent = `ua '\\' "x" \\\\ $$ E'\\n'); COMMIT; --$1`;
    const odd = `P-'q"\\b\\'); COMMIT; --$1`;
    const sent = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        // Half valid lists, half refused ones (the patient id is not one): both are audited.
        call(`/xrays?patientId=${encodeURIComponent(i % 2 ? odd : 'P-1')}`, DOCTOR, {
          headers: { 'User-Agent': agent },
        }),
      ),
    );
    for (const [i, { res, requestId }] of sent.entries()) {
      expect(res.status).toBe(i % 2 ? 400 : 200);
      const events = await eventsOf(server.pool, requestId);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        action: 'xray.list',
        user_agent: agent,
        outcome: i % 2 ? 'failed' : 'success',
      });
    }
    // And straight through the batch writer (no per-event fallback to hide a quoting error): every
    // text field, a role and the details hold quotes, backslashes, dollars and non-BMP characters.
    const nasty = `a'b"c\\d\\'e$1$$f'); COMMIT; --\u{1F600}\u00e9`;
    const client = await server.pool.connect();
    try {
      const records = await appendAuditBatch(
        client,
        [1, 2, 3].map((n) => ({
          action: 'xray.read' as const,
          outcome: 'success' as const,
          xrayId: randomUUID(),
          patientId: `${nasty}${n}`,
          details: { [nasty]: [nasty, n, { nested: `\\${nasty}` }], n },
          context: { actor: { sub: nasty, roles: [nasty, 'doctor'] }, ip: nasty, userAgent: nasty, requestId: nasty },
        })),
      );
      const { rows } = await server.pool.query<{
        id: string;
        hash: string;
        actor_sub: string;
        actor_roles: string[];
        details: unknown;
        patient_id: string;
      }>(
        `SELECT id::text AS id, hash, actor_sub, actor_roles, details, patient_id FROM audit_events WHERE id = ANY($1::bigint[]) ORDER BY id`,
        [records.map((r) => r.id)],
      );
      expect(rows).toEqual(
        records.map((r) => ({
          id: r.id,
          hash: r.hash,
          actor_sub: nasty,
          actor_roles: [nasty, 'doctor'],
          details: r.details,
          patient_id: r.patientId,
        })),
      );
      // The database hashed them: the hash is the one the application's canonical bytes give, and
      // each event chains to the one before it.
      for (const [i, r] of records.entries()) {
        const { hash, ...fields } = r;
        expect(hash).toBe(auditHash(fields));
        if (i > 0) expect(r.prevHash).toBe(records[i - 1]!.hash);
      }
      // Inside a transaction that rolls back, nothing of the batch stays.
      await client.query('BEGIN');
      const rolledBack = await appendAuditBatch(client, [
        { action: 'xray.read', outcome: 'success', context: systemContext({ sub: 'rollback', roles: [] }) },
      ]);
      await client.query('ROLLBACK');
      expect(await eventsOfIds(server.pool, [rolledBack[0]!.id])).toEqual([]);
    } finally {
      client.release();
    }
    // Values whose JSON needs escapes or number formatting (control characters, U+2028, exponents,
    // -0, several roles in an order that is not sorted), on a transaction of their own.
    const escaped = await appendAuditBatch(server.pool, [
      {
        action: 'xray.list',
        outcome: 'denied',
        patientId: '\u0041\t\u2028\u0001',
        details: {
          z: 1e21,
          a: -0,
          m: 0.1,
          big: 2 ** 60,
          s: '\u0001\u001f\u007f\u2028\ud83d\ude00',
          e: [],
        },
        context: {
          actor: { sub: 'x', roles: ['paramedic', 'admin', 'doctor'] },
          ip: null,
          userAgent: '\n',
          requestId: null,
        },
      },
    ]);
    expect((await eventsOfIds(server.pool, [escaped[0]!.id]))[0]).toMatchObject({
      actor_roles: ['paramedic', 'admin', 'doctor'],
      patient_id: '\u0041\t\u2028\u0001',
    });
    expect(await verifyAuditChain(server.pool, { batchSize: 5 })).toMatchObject({ ok: true });
  });

  it('verify-audit recomputes the whole chain of this run, and checks it against its signed checkpoint', async () => {
    const verdict = await verifyAuditChain(server.pool, { batchSize: 5 });
    expect(verdict).toEqual({
      ok: true,
      count: await countEvents(server.pool),
      headId: expect.any(String),
      headHash: expect.any(String),
      checkpoints: 0,
      unanchored: await countEvents(server.pool),
    });
    const checkpoint = await server.auditAnchoring.checkpointNow();
    expect(checkpoint).toMatchObject({ count: verdict.ok ? verdict.count : -1 });
    const cli = await verifyAuditCli(server.env);
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(/^OK: \d+ audit events verified/);
    expect(cli.stdout).toMatch(/^OK: 1 checkpoint in .* verified/m);
  });
});

describe('audit chain across instances', () => {
  let a: TestServer;
  let b: TestServer;
  let c: ServerProcess;
  let dataDir: string;
  let databaseUrl: string;
  let superuser: pg.Pool;

  beforeAll(async () => {
    // Three instances on one database and one object store: two in this process, one its own process.
    dataDir = await mkdtemp(path.join(tmpdir(), 'xray-audit-cluster-'));
    a = await startTestServer('fs', { DATA_DIR: dataDir }, { authenticate: headerActor });
    databaseUrl = a.env.DATABASE_URL ?? '';
    b = await startTestServer('fs', { DATA_DIR: dataDir, DATABASE_URL: databaseUrl }, { authenticate: headerActor });
    c = await spawnServer({ NODE_ENV: 'test', DATABASE_URL: databaseUrl, DATA_DIR: dataDir });
    superuser = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  });
  afterAll(async () => {
    await superuser?.end();
    await c?.kill();
    await b?.close();
    await a?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('concurrent appends from three instances leave one unbroken chain', async () => {
    const seed = await postXray(a.url, validMetadata(), blobOf(makePng({ seed: 50 })), { 'X-Test-Actor': PARAMEDIC });
    const id = await idOf(seed);
    const before = await countEvents(superuser);

    const burst = (base: string, actor: Record<string, string>, n: number) =>
      Array.from({ length: n }, (_, i) => {
        switch (i % 3) {
          case 0:
            return postXray(base, validMetadata(), blobOf(makePng({ seed: 1000 + i })), actor);
          case 1:
            return fetch(`${base}/xrays/${id}`, { headers: actor });
          default:
            return fetch(`${base}/xrays?limit=3`, { headers: actor });
        }
      });
    const responses = await Promise.all([
      ...burst(a.url, { 'X-Test-Actor': PARAMEDIC }, 30),
      ...burst(b.url, { 'X-Test-Actor': ADMIN }, 30),
      ...burst(c.url, {}, 30), // the spawned process acts as its development stand-in user
    ]);
    for (const res of responses) {
      expect([200, 201]).toContain(res.status);
      await res.arrayBuffer();
    }
    expect((await countEvents(superuser)) - before).toBe(90);

    const { rows } = await superuser.query<{ id: string; prev_hash: string; hash: string }>(
      'SELECT id::text AS id, prev_hash, hash FROM audit_events ORDER BY audit_events.id',
    );
    rows.forEach((row, i) => expect(row.prev_hash).toBe(i === 0 ? '0'.repeat(64) : rows[i - 1]?.hash));
    expect(await verifyAuditChain(superuser)).toMatchObject({ ok: true, count: rows.length });
    const cli = await verifyAuditCli(a.env);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain(`OK: ${rows.length} audit events verified`);
  });

  it('verify-audit names the first broken event after a superuser edits or removes one with the trigger disabled', async () => {
    const { rows } = await superuser.query<{ id: string; user_agent: string | null }>(
      'SELECT id::text AS id, user_agent FROM audit_events ORDER BY audit_events.id LIMIT 3 OFFSET 20',
    );
    const [edited, , removed] = rows;
    if (!edited || !removed) throw new Error('too few events');
    const tamper = async (sql: string, args: unknown[]) => {
      const client = await superuser.connect();
      try {
        await client.query('BEGIN');
        await client.query('ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete');
        await client.query(sql, args);
        await client.query('ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_delete');
        await client.query('COMMIT');
      } finally {
        client.release();
      }
    };

    await tamper('UPDATE audit_events SET user_agent = $2 WHERE id = $1', [edited.id, 'forged']);
    let cli = await verifyAuditCli(a.env);
    expect(cli.code).toBe(1);
    expect(cli.stdout).toContain(
      `BROKEN: audit event ${edited.id} does not verify: its contents do not match its hash`,
    );

    await tamper('UPDATE audit_events SET user_agent = $2 WHERE id = $1', [edited.id, edited.user_agent]);
    expect((await verifyAuditCli(a.env)).code).toBe(0);

    await tamper('DELETE FROM audit_events WHERE id = $1', [removed.id]);
    cli = await verifyAuditCli(a.env);
    expect(cli.code).toBe(1);
    const { rows: after } = await superuser.query<{ id: string }>(
      'SELECT id::text AS id FROM audit_events WHERE id > $1 ORDER BY audit_events.id LIMIT 1',
      [removed.id],
    );
    expect(cli.stdout).toContain(`BROKEN: audit event ${after[0]?.id} does not verify: its prev_hash is not the hash`);
  });

  it('verify-audit explains what it needs when it cannot run', async () => {
    const noDb = await verifyAuditCli({ ...a.env, DATABASE_URL: '' });
    expect(noDb.code).toBe(2);
    expect(noDb.stderr).toContain('DATABASE_URL is not set');
  });
});
