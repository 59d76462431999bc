// Attack on the SQL function audit_append (migration 1732680013000): the database hashes each
// event over '["xray-audit-v1","<id>","<time>",<middle>,"<prev>"]' with the `middle` the
// application sends, and stores the columns from the same JSON; `verify-audit` recomputes every
// hash in Node from the stored columns. These tests keep what must hold: whatever the values and
// whatever the session's settings, the stored row hashes to its hash; concurrent appends from
// several pools and rolled-back transactions leave one chain in id order; no value a client sends
// changes what is hashed; the application role cannot replace the function or gain anything by
// it; and requests over HTTP each leave one event on a chain that verifies.
import { randomUUID } from 'node:crypto';
import { makePng } from '@xray/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditHash, storable } from '../src/audit/audit.hash.ts';
import { auditRepository, type AuditRecord } from '../src/audit/audit.repository.ts';
import { appendAuditBatch, type AuditEventInput } from '../src/audit/audit.service.ts';
import { verifyAuditChain } from '../src/audit/audit.verifier.ts';
import { FALLBACK_APP_ROLE, withSessionRole } from '../src/db/database-roles.ts';
import { createPool, type PoolClient } from '../src/db/pool.ts';
import { AUDIT_SERVER_ENV, eventsOf, verifyAuditCli } from './audit.support.ts';
import {
  blobOf,
  createSeparatedDatabase,
  headerActor,
  postXray,
  startTestServer,
  validMetadata,
  type TestServer,
} from './harness.ts';

/** The stored row of event `id`, read as the verifier reads it. */
async function rowOf(db: pg.Pool, id: string): Promise<AuditRecord> {
  const [row] = await auditRepository.batchAfter(db, (BigInt(id) - 1n).toString(), 1);
  if (!row || row.id !== id) throw new Error(`event ${id} is not stored`);
  return row;
}

/** Each appended event is stored, hashes (recomputed from its stored columns) to its hash, and chains. */
async function expectAgreement(
  db: pg.Pool,
  records: AuditRecord[],
  opts: { returnedAt?: boolean } = {},
): Promise<void> {
  for (const [i, r] of records.entries()) {
    const row = await rowOf(db, r.id);
    expect(row.hash, `event ${r.id}`).toBe(r.hash);
    expect(auditHash(row), `event ${r.id} recomputed`).toBe(row.hash);
    // The time the append returned is parsed by the driver from the session's output: not ISO
    // under another DateStyle (the application never sets one); what is stored is still right.
    if (opts.returnedAt !== false) expect(row.at.getTime()).toBe(r.at.getTime());
    if (i > 0) expect(row.prevHash).toBe(records[i - 1]!.hash);
  }
}

const LONE = ['\ud800', '\udbff', '\udc00', '\udfff', '\udc00\ud800', 'a\ud83d', '\ude00b'];
const ALL_ASCII = Array.from({ length: 128 }, (_, i) => String.fromCharCode(i)).join('');
const NASTY_STRINGS = [
  '',
  ALL_ASCII,
  'a\u0000b',
  '\u0000',
  '\\u0000',
  '\u2028\u2029\u0085\ufeff\ufffe\uffff',
  '\u{10FFFF}\u{1F600}\u{E0001}',
  'e\u0301 \u00e9', // NFD and NFC: not normalised
  '"]',
  '","xray-audit-v1","1","1970-01-01T00:00:00.000Z",',
  '\\"\\\\\\',
  `'); SELECT pg_sleep(1); -- $1 $$ E'\\x00'`,
  'NULL',
  'null',
  ...LONE,
];
/** Long values go where no index is (patient_id and actor_sub are indexed: a btree row holds ~2700 bytes). */
const LONG = 'x'.repeat(1 << 20) + '\u00e9' + randomUUID().repeat(2000);

const NUMBERS = [
  0,
  -0,
  1,
  -1,
  0.1,
  0.1 + 0.2,
  1 / 3,
  1e-7,
  1e-6,
  1.5e-7,
  123e-20,
  5e-324,
  2.2250738585072014e-308,
  1e21,
  1e20,
  1.7976931348623157e308,
  2 ** 53,
  2 ** 53 + 2,
  -(2 ** 63),
  2 ** 64,
  123456789012345680000,
  4.35,
  0.000001,
  Number('9007199254740993'), // not representable: 9007199254740992
];

const KEYS = [
  '',
  'a',
  'A',
  'aa',
  '\u00e9',
  'e\u0301',
  '\uE000',
  '\uFFFF',
  '\u{1F600}', // UTF-16 sorts it before U+E000, UTF-8 bytes after
  '\u{10000}',
  '__proto__',
  'constructor',
  'toJSON',
  'a\u0000',
  'a\uFFFD', // the same key once NUL is replaced: one member
  '\ud800',
  '"',
  '\\',
  '\u2028',
];

function nastyDetails(): Record<string, unknown> {
  const details: Record<string, unknown> = {};
  for (const [i, k] of KEYS.entries()) Object.defineProperty(details, k, { value: i, enumerable: true });
  let deep: unknown = 'bottom';
  for (let i = 0; i < 200; i++) deep = i % 2 ? [deep, i] : { [`k${i}`]: deep, z: null };
  return {
    ...details,
    numbers: NUMBERS,
    strings: NASTY_STRINGS,
    nested: [[[]], {}, [{}], { '': { '': [] } }, [null, true, false]],
    deep,
    undef: undefined, // dropped, as JSON drops it
  };
}

const ROLES = ['NULL', 'null', '', '"', '\\', '{', '}', ',', ' a ', '{"a"}', '\u0000', '\ud800', 'doctor', 'é'];

function nastyEvents(): AuditEventInput[] {
  const events: AuditEventInput[] = [];
  for (const s of NASTY_STRINGS) {
    events.push({
      action: 'xray.read',
      outcome: 'success',
      xrayId: randomUUID(),
      patientId: s,
      details: { s, [s]: s },
      context: { actor: { sub: s, roles: [s, 'doctor'] }, ip: s, userAgent: s, requestId: s },
    });
  }
  for (const n of NUMBERS) {
    events.push({
      action: 'xray.list',
      outcome: 'success',
      details: { n, list: [n, -n, { n }] },
      context: { actor: { sub: 'numbers', roles: [] }, ip: null, userAgent: null, requestId: null },
    });
  }
  events.push(
    {
      action: 'xray.download',
      outcome: 'success',
      details: { long: LONG, [LONG.slice(0, 5000)]: LONG },
      context: { actor: { sub: 'long', roles: [LONG] }, ip: LONG, userAgent: LONG, requestId: LONG },
    },
    {
      action: 'access.denied',
      outcome: 'denied',
      xrayId: randomUUID().toUpperCase(),
      details: nastyDetails(),
      context: { actor: { sub: 'keys', roles: ROLES }, ip: '::1', userAgent: 'u', requestId: 'r' },
    },
    {
      action: 'access.denied',
      outcome: 'denied',
      context: { actor: null, ip: null, userAgent: null, requestId: null },
    },
    {
      action: 'xray.read',
      outcome: 'failed',
      details: {},
      context: {
        actor: { sub: 'many-roles', roles: Array.from({ length: 300 }, (_, i) => `role-${300 - i}`) },
        ip: null,
        userAgent: null,
        requestId: null,
      },
    },
  );
  return events;
}

describe('audit_append: what the database hashes is what verify-audit recomputes', () => {
  let server: TestServer;
  let appUrl: string;

  beforeAll(async () => {
    server = await startTestServer('fs', AUDIT_SERVER_ENV, { authenticate: headerActor });
    appUrl = withSessionRole(server.env.DATABASE_URL!, FALLBACK_APP_ROLE)!;
  });
  afterAll(async () => {
    await server?.close();
  });

  it('every kind of string, number, key, nesting and role hashes alike in SQL and in Node, one at a time and in one batch', async () => {
    const events = nastyEvents();
    // One at a time, so a disagreement names its value.
    for (const event of events) {
      const records = await appendAuditBatch(server.pool, [event]);
      await expectAgreement(server.pool, records);
    }
    // All in one statement, on a client in a transaction, twice.
    const client = await server.pool.connect();
    try {
      await client.query('BEGIN');
      const a = await appendAuditBatch(client, events);
      const b = await appendAuditBatch(client, [...events].reverse());
      await client.query('COMMIT');
      expect(b[0]!.prevHash).toBe(a[a.length - 1]!.hash);
      await expectAgreement(server.pool, [...a, ...b]);
    } finally {
      client.release();
    }
    // What was stored is what was sent, made storable (NUL and lone surrogates replaced).
    const [sent] = await appendAuditBatch(server.pool, [events[0]!]);
    expect(sent).toBeDefined();
    const user = await appendAuditBatch(server.pool, [
      {
        action: 'xray.read',
        outcome: 'success',
        context: { actor: { sub: 'a\u0000\ud800', roles: [] }, ip: null, userAgent: '\udc00x', requestId: null },
      },
    ]);
    const row = await rowOf(server.pool, user[0]!.id);
    expect(row.actorSub).toBe(storable('a\u0000\ud800'));
    expect(row.actorSub).toBe('a\ufffd\ufffd');
    expect(row.userAgent).toBe('\ufffdx');
    expect(await verifyAuditChain(server.pool, { batchSize: 17 })).toMatchObject({ ok: true });
  });

  it('the session’s settings do not change what is hashed or stored', async () => {
    const settings: string[][] = [
      ["SET TimeZone = 'Pacific/Kiritimati'"],
      ["SET TimeZone = 'America/St_Johns'"],
      ["SET TimeZone = 'Asia/Kathmandu'"],
      ["SET TimeZone = 'UTC+12'"],
      ["SET TIME ZONE INTERVAL '-03:30' HOUR TO MINUTE"],
      ["SET DateStyle = 'ISO, DMY'"],
      ["SET IntervalStyle = 'sql_standard'"],
      ['SET extra_float_digits = -15'],
      ['SET extra_float_digits = 3'],
      ['SET standard_conforming_strings = off', 'SET escape_string_warning = off', 'SET backslash_quote = on'],
      ['SET search_path = public, pg_catalog'],
      ['SET search_path = pg_catalog, public'],
      ["SET lc_time = 'C.UTF-8'", "SET lc_numeric = 'C.UTF-8'", "SET lc_monetary = 'C.UTF-8'"],
      ["SET DateStyle = 'SQL, DMY'"],
      ["SET DateStyle = 'German'"],
      ["SET DateStyle = 'Postgres, MDY'"],
      ["SET timezone_abbreviations = 'India'"],
      ["SET timezone_abbreviations = 'Australia'", "SET TimeZone = 'Australia/Lord_Howe'"],
      ["SET bytea_output = 'escape'"],
      ['SET enable_sort = off', 'SET enable_hashagg = off', 'SET jit = on', 'SET jit_above_cost = 0'],
      ['SET array_nulls = off'],
    ];
    const events = nastyEvents().filter((e) => e.context.userAgent !== LONG);
    for (const set of settings) {
      const client = new pg.Client({ connectionString: appUrl });
      await client.connect();
      try {
        for (const sql of set) await client.query(sql);
        const records = await appendAuditBatch(client as unknown as PoolClient, events);
        await expectAgreement(server.pool, records, {
          returnedAt: !/DateStyle = '(SQL|German|Postgres)/.test(set.join()),
        });
      } finally {
        await client.end();
      }
    }
    expect(await verifyAuditChain(server.pool, { batchSize: 50 })).toMatchObject({ ok: true });
  });
});

describe('audit_append: concurrent appends from several pools, with transactions that roll back', () => {
  let server: TestServer;
  let pools: pg.Pool[] = [];

  beforeAll(async () => {
    server = await startTestServer('fs', AUDIT_SERVER_ENV, { authenticate: headerActor });
    const appUrl = withSessionRole(server.env.DATABASE_URL!, FALLBACK_APP_ROLE)!;
    // Three "instances", each with its own pool, as the application's role.
    pools = [0, 1, 2].map(() => createPool(appUrl, 6));
  });
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.end()));
    await server?.close();
  });

  const event = (tag: string, i: number): AuditEventInput => ({
    action: 'xray.read',
    outcome: 'success',
    xrayId: randomUUID(),
    details: { i, tag },
    context: { actor: { sub: 'conc', roles: ['doctor'] }, ip: null, userAgent: null, requestId: tag },
  });

  it('leaves one chain in id order: every committed event once, nothing of a rolled-back one, times never going back', async () => {
    const committed = new Set<string>();
    const rolledBack = new Set<string>();
    const jobs: Promise<void>[] = [];
    for (let j = 0; j < 240; j++) {
      const pool = pools[j % 3]!;
      const tag = `c-${j}`;
      const n = 1 + (j % 13);
      const batch = Array.from({ length: n }, (_, i) => event(tag, i));
      switch (j % 6) {
        case 0:
        case 1:
        case 2:
          // A read batch: one autocommit statement.
          jobs.push(
            appendAuditBatch(pool, batch).then((rs) => {
              for (const r of rs) committed.add(r.id);
            }),
          );
          break;
        case 3:
        case 4:
          // A write: the append inside its transaction, some work after it, then COMMIT or ROLLBACK.
          jobs.push(
            (async () => {
              const tx = await pool.connect();
              try {
                await tx.query('BEGIN');
                await tx.query('SELECT pg_sleep(0.002)');
                const rs = await appendAuditBatch(tx, batch);
                await tx.query('SELECT pg_sleep(0.002)');
                if (j % 2) {
                  await tx.query('ROLLBACK');
                  for (const r of rs) rolledBack.add(r.id);
                } else {
                  await tx.query('COMMIT');
                  for (const r of rs) committed.add(r.id);
                }
              } finally {
                tx.release();
              }
            })(),
          );
          break;
        default:
          // An append rolled back to a savepoint (its lock goes with it), then another that commits.
          jobs.push(
            (async () => {
              const tx = await pool.connect();
              try {
                await tx.query('BEGIN');
                await tx.query('SAVEPOINT s');
                const undone = await appendAuditBatch(tx, batch);
                await tx.query('SELECT pg_sleep(0.003)');
                await tx.query('ROLLBACK TO SAVEPOINT s');
                for (const r of undone) rolledBack.add(r.id);
                await tx.query('SELECT pg_sleep(0.003)');
                const kept = await appendAuditBatch(tx, batch);
                await tx.query('COMMIT');
                for (const r of kept) committed.add(r.id);
              } finally {
                tx.release();
              }
            })(),
          );
      }
    }
    const settled = await Promise.allSettled(jobs);
    expect(settled.filter((s) => s.status === 'rejected')).toEqual([]);

    const { rows } = await server.pool.query<{ id: string; at: Date; prev_hash: string; hash: string }>(
      'SELECT id::text AS id, at, prev_hash, hash FROM audit_events ORDER BY audit_events.id',
    );
    const stored = new Set(rows.map((r) => r.id));
    expect(stored.size).toBe(committed.size);
    for (const id of committed) expect(stored.has(id)).toBe(true);
    for (const id of rolledBack) expect(stored.has(id)).toBe(false);
    rows.forEach((row, i) => {
      expect(row.prev_hash).toBe(i === 0 ? '0'.repeat(64) : rows[i - 1]!.hash);
      if (i > 0) expect(row.at.getTime()).toBeGreaterThanOrEqual(rows[i - 1]!.at.getTime());
    });
    expect(await verifyAuditChain(server.pool, { batchSize: 100 })).toMatchObject({ ok: true, count: rows.length });
    const cli = await verifyAuditCli(server.env);
    expect(cli.code).toBe(0);
  });

  it('a database whose transactions default to REPEATABLE READ: the pool keeps READ COMMITTED, and a session that does not is refused clearly', async () => {
    // The head is read under the lock with the statement's snapshot; under REPEATABLE READ that
    // snapshot is the transaction's, taken before the lock was granted (a stale head, refused at
    // random by audit_events_no_fork). A database or role default could set it.
    const admin = new pg.Client({ connectionString: server.env.DATABASE_URL! });
    await admin.connect();
    const db = (await admin.query<{ db: string }>('SELECT current_database() AS db')).rows[0]!.db;
    await admin.query(`ALTER DATABASE "${db}" SET default_transaction_isolation = 'repeatable read'`);
    const appUrl = withSessionRole(server.env.DATABASE_URL!, FALLBACK_APP_ROLE)!;
    const rc = createPool(appUrl, 4);
    try {
      // The application's pool: every append of many at once goes in, one unbroken chain.
      const settled = await Promise.allSettled(
        Array.from({ length: 60 }, (_, j) => appendAuditBatch(rc, [event(`rr-${j}`, j), event(`rr-${j}`, j + 1)])),
      );
      expect(settled.filter((s) => s.status === 'rejected')).toEqual([]);
      // A session of another level (not the application's pool): refused every time, with the reason.
      const rr = new pg.Client({ connectionString: appUrl });
      await rr.connect();
      try {
        await expect(appendAuditBatch(rr as unknown as PoolClient, [event('rr-raw', 0)])).rejects.toMatchObject({
          code: '25000',
          message: expect.stringMatching(/needs READ COMMITTED, not repeatable read/),
        });
      } finally {
        await rr.end();
      }
      expect(await verifyAuditChain(server.pool, { batchSize: 100 })).toMatchObject({ ok: true });
    } finally {
      await rc.end();
      await admin.query(`ALTER DATABASE "${db}" RESET default_transaction_isolation`);
      await admin.end();
    }
  });

  it('a checkpoint head read under the lock is never followed by an event dated before it', async () => {
    const stop = Date.now() + 1500;
    const heads: { id: string; time: Date }[] = [];
    const appender = async (pool: pg.Pool) => {
      for (let i = 0; Date.now() < stop; i++) await appendAuditBatch(pool, [event('head', i)]);
    };
    const reader = async () => {
      const client = await pools[0]!.connect();
      try {
        while (Date.now() < stop) {
          const head = await auditRepository.lockedHead(client);
          if (head) heads.push(head);
        }
      } finally {
        client.release();
      }
    };
    await Promise.all([appender(pools[0]!), appender(pools[1]!), appender(pools[2]!), reader()]);
    expect(heads.length).toBeGreaterThan(5);
    for (const head of heads) {
      const { rows } = await server.pool.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM audit_events WHERE id > $1::bigint AND at < $2',
        [head.id, head.time],
      );
      expect(rows[0]!.n).toBe(0);
    }
  });
});

describe('audit_append under production role separation', () => {
  let server: TestServer;
  let db: { adminUrl: string; ownerUrl: string; appUrl: string };
  let app: pg.Client;

  beforeAll(async () => {
    db = await createSeparatedDatabase();
    server = await startTestServer(
      'fs',
      { ...AUDIT_SERVER_ENV, DATABASE_URL: db.appUrl, DATABASE_OWNER_URL: db.ownerUrl },
      { authenticate: headerActor },
    );
    app = new pg.Client({ connectionString: db.appUrl });
    await app.connect();
  });
  afterAll(async () => {
    await app?.end();
    await server?.close();
  });

  const one = (tag: string): AuditEventInput => ({
    action: 'xray.read',
    outcome: 'success',
    context: { actor: { sub: tag, roles: ['doctor'] }, ip: null, userAgent: null, requestId: tag },
  });

  it('the application role calls it with its own rights, and cannot replace, alter or shadow it', async () => {
    const records = await appendAuditBatch(app as unknown as PoolClient, [one('app-1'), one('app-2')]);
    await expectAgreement(server.pool, records);

    const { rows } = await app.query<{ owner: string; definer: boolean; config: string[] | null; mine: boolean }>(
      `SELECT p.proowner::regrole::text AS owner, p.prosecdef AS definer, p.proconfig AS config,
              pg_has_role(current_user, p.proowner, 'MEMBER') AS mine
         FROM pg_proc p WHERE p.proname = 'audit_append'`,
    );
    expect(rows).toHaveLength(1);
    // SECURITY INVOKER: it can do nothing the caller's own INSERT and nextval could not.
    expect(rows[0]).toMatchObject({ definer: false, mine: false });

    const body = `RETURNS TABLE (id text, at timestamptz, prev_hash text, hash text) LANGUAGE sql AS $$ SELECT '1', now(), '', '' $$`;
    await expect(app.query(`CREATE OR REPLACE FUNCTION audit_append(events jsonb) ${body}`)).rejects.toThrow(
      /must be owner of function audit_append|permission denied for schema public/,
    );
    await expect(app.query('ALTER FUNCTION audit_append(jsonb) SECURITY DEFINER')).rejects.toThrow(/must be owner/);
    await expect(app.query('ALTER FUNCTION audit_append(jsonb) RENAME TO audit_append_old')).rejects.toThrow(
      /must be owner/,
    );
    await expect(app.query('DROP FUNCTION audit_append(jsonb)')).rejects.toThrow(/must be owner/);
    // No schema to put a look-alike in, ahead of it or beside it.
    await expect(app.query(`CREATE FUNCTION public.audit_append(events json) ${body}`)).rejects.toThrow(
      /permission denied for schema public/,
    );
    await expect(app.query('CREATE SCHEMA shadow')).rejects.toThrow(/permission denied for database/);
    // Nor turn the sequence back (so a later append would reuse an id below the head).
    await expect(app.query(`SELECT setval(pg_get_serial_sequence('audit_events', 'id'), 1)`)).rejects.toThrow(
      /permission denied for sequence/,
    );
    expect(await verifyAuditChain(server.pool)).toMatchObject({ ok: true });
  });

  it('a temporary audit_events only fools the session that made it: the trail is untouched', async () => {
    const before = await server.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_events');
    const temp = new pg.Client({ connectionString: db.appUrl });
    await temp.connect();
    try {
      await temp.query(
        'CREATE TEMP TABLE audit_events (LIKE public.audit_events INCLUDING CONSTRAINTS INCLUDING INDEXES)',
      );
      await temp.query('ALTER TABLE pg_temp.audit_events ALTER id ADD GENERATED BY DEFAULT AS IDENTITY');
      const fake = await appendAuditBatch(temp as unknown as PoolClient, [one('temp')]);
      // Unqualified in the function, audit_events is the session's temporary table (pg_temp comes first).
      expect(fake[0]!.prevHash).toBe('0'.repeat(64));
    } finally {
      await temp.end();
    }
    const after = await server.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_events');
    expect(after.rows[0]!.n).toBe(before.rows[0]!.n);
    const [next] = await appendAuditBatch(server.pool, [one('after-temp')]);
    await expectAgreement(server.pool, [next!]);
    expect(await verifyAuditChain(server.pool)).toMatchObject({ ok: true });
  });

  it('a `middle` that does not match the columns is stored as sent, and verify-audit names that event', async () => {
    // The function trusts the application's middle; the verifier recomputes it from the columns.
    // A caller with the application's role could as well INSERT a row of its own choosing: what
    // protects the trail from it is the chain and its signed checkpoints, not this function.
    const honest = await appendAuditBatch(server.pool, [one('honest')]);
    await expectAgreement(server.pool, honest);
    const lie = {
      actorSub: 'mallory',
      actorRoles: ['admin'],
      action: 'xray.read',
      xrayId: null,
      patientId: null,
      outcome: 'success',
      clientIp: null,
      userAgent: null,
      requestId: null,
      details: {},
      middle: '"alice",["admin"],"xray.read",null,null,"success",null,null,null,{}',
    };
    const [stored] = await auditRepository.append(app as unknown as PoolClient, [lie]);
    expect(await verifyAuditChain(server.pool)).toMatchObject({
      ok: false,
      brokenId: stored!.id,
      reason: expect.stringMatching(/contents do not match its hash/),
    });
  });
});

describe('audit_append behind the HTTP API', () => {
  let server: TestServer;
  let xrayId: string;

  beforeAll(async () => {
    server = await startTestServer('fs', AUDIT_SERVER_ENV, { authenticate: headerActor });
    const res = await postXray(server.url, validMetadata(), blobOf(makePng({ seed: 77 })), {
      'X-Test-Actor': 'para-fn; paramedic',
    });
    expect(res.status).toBe(201);
    xrayId = ((await res.json()) as { id: string }).id;
  });
  afterAll(async () => {
    await server?.close();
  });

  const call = async (path: string, actor: string | undefined, headers: Record<string, string> = {}) => {
    const requestId = `fn-${randomUUID()}`;
    const res = await fetch(`${server.url}${path}`, {
      headers: { 'X-Request-Id': requestId, ...(actor !== undefined ? { 'X-Test-Actor': actor } : {}), ...headers },
    });
    await res.arrayBuffer();
    return { status: res.status, events: await eventsOf(server.pool, requestId) };
  };

  it('other users, a doctor, a token without a role and odd paths each leave one event, and the chain verifies', async () => {
    const cases: [string, string | undefined, Record<string, string>?][] = [
      [`/xrays/${xrayId}`, 'doc-fn; doctor'],
      [`/xrays/${xrayId.toUpperCase()}`, 'doc-fn; doctor'],
      [`/xrays/${xrayId}`, 'para-other; paramedic'],
      [`/xrays/${xrayId}`, 'nobody-fn; '],
      [`/xrays/${xrayId}`, undefined],
      [`/xrays/${xrayId}/download`, 'doc-fn; doctor', { Range: 'bytes=0-0' }],
      [`/xrays/${xrayId}/download`, 'nobody-fn; '],
      [`/xrays/${randomUUID()}`, 'doc-fn; doctor'],
      ['/xrays/not-a-uuid', 'doc-fn; doctor'],
      ['/xrays/%E2%80%A8%00', 'doc-fn; doctor'],
      [`/xrays/${xrayId}%20`, 'doc-fn; doctor'],
      ['/xrays?patientId=%22%5D%2C%22x', 'doc-fn; doctor'],
      ['/xrays?patientId=P-1&patientId=P-2', 'doc-fn; doctor'],
      ['/audit', 'doc-fn; doctor'],
      ['/audit?limit=1', 'admin-fn; admin'],
      // Header bytes a client chooses (Latin-1 as Node reads them), quotes and backslashes.
      [`/xrays/${xrayId}`, 'd\u00e9\u00ff"\\; doctor,admin , doctor', { 'User-Agent': '"]\\u0000\u00ff\u0085' }],
    ];
    const results = [];
    for (const [path, actor, headers] of cases) results.push({ path, actor, ...(await call(path, actor, headers)) });
    for (const r of results) expect(r.events, `${r.actor} ${r.path} (${r.status})`).toHaveLength(1);
    expect(results.map((r) => r.status)).toEqual([
      200, 200, 404, 403, 401, 206, 403, 404, 400, 400, 400, 400, 200, 403, 200, 200,
    ]);
    // The upper-case id is on the X-ray's trail as PostgreSQL prints it (and hashed so).
    expect(results[1]!.events[0]).toMatchObject({ xray_id: xrayId, outcome: 'success' });
    expect(results[15]!.events[0]).toMatchObject({
      actor_sub: 'd\u00e9\u00ff"\\',
      user_agent: '"]\\u0000\u00ff\ufffd',
    }); // control characters replaced (audit.http.ts)
    expect(await verifyAuditChain(server.pool, { batchSize: 3 })).toMatchObject({ ok: true });
    const cli = await verifyAuditCli(server.env);
    expect(cli.code).toBe(0);
  });
});
