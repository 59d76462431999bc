import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { anchorSignerFromPem, loadOrCreateDevAnchorKey } from '../src/audit/audit-anchor.key.ts';
import { checkpointName, openCheckpoint, signCheckpoint } from '../src/audit/audit.checkpoint.ts';
import { AuditCheckpointer } from '../src/audit/audit.checkpointer.ts';
import { auditHash, type HashedAuditFields } from '../src/audit/audit.hash.ts';
import { auditTrailPowers, prepareDatabase } from '../src/db/database-roles.ts';
import { createSeparatedDatabase, startTestServer, type TestServer } from './harness.ts';
import { runAdmin } from './server-process.ts';

// Issue 16, "Anchored audit": someone with the database — its superuser, the schema's owner, or
// the application's own login — changes the audit trail, and `xray-admin verify-audit` (the real
// CLI, in its own process) says where, because signed checkpoints outside the database still
// hold what the chain was. The application's role cannot do the worst of it at all.

const silent = pino({ level: 'silent' });

/** Polls `check` (in a hook, where expect.poll is not allowed) for up to 10 s. */
async function waitFor(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('timed out waiting');
}

interface EventRow extends HashedAuditFields {
  hash: string;
}

/** The whole chain as the hash sees it, in id order. */
async function chainOf(db: pg.ClientBase): Promise<EventRow[]> {
  const { rows } = await db.query<{
    id: string;
    at: Date;
    actor_sub: string | null;
    actor_roles: string[];
    action: string;
    xray_id: string | null;
    patient_id: string | null;
    outcome: string;
    client_ip: string | null;
    user_agent: string | null;
    request_id: string | null;
    details: unknown;
    prev_hash: string;
    hash: string;
  }>(
    `SELECT id::text AS id, at, actor_sub, actor_roles, action, xray_id::text AS xray_id, patient_id, outcome,
            client_ip, user_agent, request_id, details, prev_hash, hash
       FROM audit_events ORDER BY audit_events.id`,
  );
  return rows.map((r) => ({
    id: r.id,
    at: r.at,
    actorSub: r.actor_sub,
    actorRoles: r.actor_roles,
    action: r.action,
    xrayId: r.xray_id,
    patientId: r.patient_id,
    outcome: r.outcome,
    clientIp: r.client_ip,
    userAgent: r.user_agent,
    requestId: r.request_id,
    details: r.details,
    prevHash: r.prev_hash,
    hash: r.hash,
  }));
}

/** A forger's event: chained to the head, its hash recomputed with the published layout. */
function forgedAppend(head: EventRow, at: Date): EventRow {
  const fields: HashedAuditFields = {
    id: String(BigInt(head.id) + 1n),
    at,
    actorSub: 'dr-who',
    actorRoles: ['doctor'],
    action: 'xray.read',
    xrayId: randomUUID(),
    patientId: 'P-1001',
    outcome: 'success',
    clientIp: '10.0.0.7',
    userAgent: 'forged',
    requestId: null,
    details: {},
    prevHash: head.hash,
  };
  return { ...fields, hash: auditHash(fields) };
}

async function insertEvent(db: pg.ClientBase, e: EventRow): Promise<void> {
  await db.query(
    `INSERT INTO audit_events (id, at, actor_sub, actor_roles, action, xray_id, patient_id, outcome, client_ip,
       user_agent, request_id, details, prev_hash, hash)
     VALUES ($1::bigint, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
    [
      e.id,
      e.at,
      e.actorSub,
      e.actorRoles,
      e.action,
      e.xrayId,
      e.patientId,
      e.outcome,
      e.clientIp,
      e.userAgent,
      e.requestId,
      JSON.stringify(e.details),
      e.prevHash,
      e.hash,
    ],
  );
}

/** Runs `fn` on one connection with the append-only triggers off, as only the owner or a superuser can. */
async function withTriggersDisabled(url: string, fn: (db: pg.Client) => Promise<void>): Promise<void> {
  await withDb(url, async (db) => {
    await db.query('BEGIN');
    await db.query('ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete');
    await db.query('ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_truncate');
    await fn(db);
    await db.query('ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_delete');
    await db.query('ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_truncate');
    await db.query('COMMIT');
  });
}

async function withDb<T>(url: string, fn: (db: pg.Client) => Promise<T>): Promise<T> {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    return await fn(db);
  } finally {
    await db.end();
  }
}

const withDatabase = (url: string, name: string): string => {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
};

/**
 * One run of the real server leaves a history: events appended in three groups of five, each
 * anchored by the checkpointer on its own (AUDIT_CHECKPOINT_EVERY=5), then two more that only
 * the checkpoint written at shutdown covers. Every case tampers with its own copy of that
 * database (CREATE DATABASE … TEMPLATE) and of its checkpoints.
 */
describe('anchored audit trail: tampering is detected by verify-audit', () => {
  let history: { adminUrl: string; ownerUrl: string; appUrl: string; dataDir: string; database: string };
  let events: EventRow[];
  const cleanup: string[] = [];

  beforeAll(async () => {
    const db = await createSeparatedDatabase();
    const server = await startTestServer('fs', {
      DATABASE_URL: db.appUrl,
      DATABASE_OWNER_URL: db.ownerUrl,
      AUDIT_CHECKPOINT_EVERY: '5',
      AUDIT_CHECKPOINT_INTERVAL_MS: String(60 * 60 * 1000),
    });
    const dataDir = await mkdtemp(path.join(tmpdir(), 'xray-anchor-history-'));
    cleanup.push(dataDir);
    try {
      const request = async () => (await fetch(`${server.url}/xrays?limit=1`)).arrayBuffer();
      for (const count of [5, 10, 15]) {
        for (let i = 0; i < 5; i++) await request();
        // Written by the checkpointer's own turn (every N events), not asked for.
        await waitFor(async () => (await server.auditAnchoring.witness.list()).includes(checkpointName(count)));
      }
      await request();
      await request();
    } finally {
      await server.stop();
      await cp(server.config.dataDir, dataDir, { recursive: true });
      await server.close();
    }
    history = { ...db, dataDir, database: new URL(db.adminUrl).pathname.slice(1) };
    events = await withDb(history.adminUrl, chainOf);
  });
  afterAll(async () => {
    for (const dir of cleanup) await rm(dir, { recursive: true, force: true });
  });

  /** A copy of the history to tamper with: its database (same roles) and its DATA_DIR. */
  async function copyOfHistory() {
    const name = `xray_tamper_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
    await withDb(inject('pgAdminUrl'), (admin) => admin.query(`CREATE DATABASE ${name} TEMPLATE ${history.database}`));
    const dataDir = await mkdtemp(path.join(tmpdir(), 'xray-anchor-case-'));
    cleanup.push(dataDir);
    await cp(history.dataDir, dataDir, { recursive: true });
    const copy = {
      superuserUrl: withDatabase(history.adminUrl, name),
      ownerUrl: withDatabase(history.ownerUrl, name),
      appUrl: withDatabase(history.appUrl, name),
      dataDir,
    };
    /** `xray-admin verify-audit` with the server's settings, as an operator runs it. */
    const verify = () =>
      runAdmin(['verify-audit', '--batch-size', '4'], {
        NODE_ENV: 'test',
        DATABASE_URL: copy.appUrl,
        DATA_DIR: dataDir,
      });
    return { ...copy, verify };
  }

  const nth = (i: number): EventRow => {
    const e = events.at(i);
    if (!e) throw new Error(`no event ${i}`);
    return e;
  };

  it('the history: 17 events, checkpoints at 5, 10 and 15 on their own and at 17 on shutdown; verify-audit is OK', async () => {
    expect(events).toHaveLength(17);
    expect(await readdir(path.join(history.dataDir, 'objects/audit-checkpoints'))).toEqual(
      [5, 10, 15, 17].map(checkpointName),
    );
    const { code, stdout, stderr } = await (await copyOfHistory()).verify();
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain(`OK: 17 audit events verified; chain intact up to event ${nth(-1).id}`);
    expect(stdout).toMatch(
      /OK: 4 checkpoints in .*audit-checkpoints\/ verified \(key [\w-]{43}\); the newest, written .*, holds 17 events/,
    );
  });

  it.each([1, 10])('deleting the last %i event(s) (superuser, triggers off)', async (n) => {
    const copy = await copyOfHistory();
    await withTriggersDisabled(copy.superuserUrl, async (db) => {
      await db.query('DELETE FROM audit_events WHERE id > $1::bigint', [nth(-1 - n).id]);
    });
    const { code, stdout } = await copy.verify();
    expect(code).toBe(1);
    expect(stdout).toContain(`BROKEN: checkpoint ${checkpointName(17)} (written `);
    expect(stdout).toContain(
      `is past the end of the chain, which ends at event ${nth(-1 - n).id} after ${17 - n} events: ${n} event${n === 1 ? '' : 's'} or more were deleted from its end (after event ${nth(-1 - n).id})`,
    );
  });

  it('a forged, back-dated event appended with a recomputed hash by the application role (a plain INSERT)', async () => {
    const copy = await copyOfHistory();
    const forged = forgedAppend(nth(-1), new Date(nth(3).at.getTime()));
    await withDb(copy.appUrl, (db) => insertEvent(db, forged));
    const { code, stdout } = await copy.verify();
    expect(code).toBe(1);
    expect(stdout).toContain(
      `BROKEN: audit event ${forged.id} does not verify: it is dated ${forged.at.toISOString()}, before checkpoint ${checkpointName(17)}`,
    );
    expect(stdout).toContain('it was appended later with a false date');
  });

  it('a forged, back-dated event appended with a recomputed hash by the superuser', async () => {
    const copy = await copyOfHistory();
    const forged = forgedAppend(nth(-1), new Date(nth(-1).at.getTime() - 60_000));
    await withDb(copy.superuserUrl, (db) => insertEvent(db, forged));
    const { code, stdout } = await copy.verify();
    expect(code).toBe(1);
    expect(stdout).toContain(`BROKEN: audit event ${forged.id} does not verify: it is dated`);
  });

  it('a middle event changed and every hash after it recomputed (superuser, triggers off)', async () => {
    const copy = await copyOfHistory();
    const edited = nth(7); // the 8th event: between the checkpoints at 5 and 10
    await withTriggersDisabled(copy.superuserUrl, async (db) => {
      const chain = await chainOf(db);
      let prevHash = chain[6]?.hash ?? '';
      for (const e of chain.slice(7)) {
        const fields = { ...e, prevHash, ...(e.id === edited.id ? { outcome: 'denied', userAgent: 'rewritten' } : {}) };
        const hash = auditHash(fields);
        await db.query(
          'UPDATE audit_events SET outcome = $2, user_agent = $3, prev_hash = $4, hash = $5 WHERE id = $1',
          [e.id, fields.outcome, fields.userAgent, prevHash, hash],
        );
        prevHash = hash;
      }
    });
    // The chain is consistent in itself again: only the checkpoints can tell.
    const { code, stdout } = await copy.verify();
    expect(code).toBe(1);
    expect(stdout).toContain(`BROKEN: checkpoint ${checkpointName(10)} (written `);
    expect(stdout).toContain(`recorded hash ${nth(9).hash} for event ${nth(9).id}; the chain now has`);
    expect(stdout).toContain(`events after event ${nth(4).id} (checkpoint ${checkpointName(5)}`);
    expect(stdout).toContain(`still intact) up to event ${nth(9).id} were altered and the hashes recomputed`);
  });

  it('the owner role disabling the append-only triggers and cutting off the tail, or emptying the table', async () => {
    const copy = await copyOfHistory();
    await withTriggersDisabled(copy.ownerUrl, async (db) => {
      await db.query('DELETE FROM audit_events WHERE id > $1::bigint', [nth(11).id]);
    });
    let { code, stdout } = await copy.verify();
    expect(code).toBe(1);
    // The checkpoints at 15 and 17 name events the walk never meets; the newest says how many are gone.
    expect(stdout).toContain(`BROKEN: checkpoint ${checkpointName(17)} (written `);
    expect(stdout).toContain(`is past the end of the chain, which ends at event ${nth(11).id} after 12 events`);

    await withTriggersDisabled(copy.ownerUrl, async (db) => {
      await db.query('TRUNCATE audit_events');
    });
    ({ code, stdout } = await copy.verify());
    expect(code).toBe(1);
    expect(stdout).toContain('is past the end of the chain, which is empty: every event was deleted');
  });

  it('events removed from the middle and the rest relinked and re-hashed', async () => {
    const copy = await copyOfHistory();
    await withTriggersDisabled(copy.superuserUrl, async (db) => {
      await db.query('DELETE FROM audit_events WHERE id IN ($1::bigint, $2::bigint)', [nth(10).id, nth(11).id]);
      const chain = await chainOf(db);
      let prevHash = chain[9]?.hash ?? '';
      for (const e of chain.slice(10)) {
        const hash = auditHash({ ...e, prevHash });
        await db.query('UPDATE audit_events SET prev_hash = $2, hash = $3 WHERE id = $1', [e.id, prevHash, hash]);
        prevHash = hash;
      }
    });
    const { code, stdout } = await copy.verify();
    expect(code).toBe(1);
    expect(stdout).toContain(`BROKEN: checkpoint ${checkpointName(15)} (written `);
    expect(stdout).toMatch(new RegExp(`events after event ${nth(9).id} \\(checkpoint ${checkpointName(10)}`));
    expect(stdout).toContain(`were removed (${15 - 2} events now, not 15) and the hashes recomputed`);
  });

  it('a checkpoint forged with another key', async () => {
    const copy = await copyOfHistory();
    const dir = path.join(copy.dataDir, 'objects/audit-checkpoints');
    const impostor = await anchorSignerFromPem(
      generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    );
    const last = nth(-1);
    await writeFile(
      path.join(dir, checkpointName(30)),
      await signCheckpoint({ count: 30, headId: '99', headHash: last.hash, time: new Date() }, impostor),
    );
    const { code, stdout } = await copy.verify();
    expect(code).toBe(1);
    expect(stdout).toContain(`BROKEN: checkpoint ${checkpointName(30)} in ${dir}/ does not verify: it names key`);
  });

  it("an auditor needs only the anchor key's public half; with no key at all verify-audit cannot vouch (exit 2)", async () => {
    const copy = await copyOfHistory();
    const keyFile = path.join(copy.dataDir, 'keys/audit-anchor-key.pem');
    const signer = await anchorSignerFromPem(await readFile(keyFile, 'utf8'));
    const publicKey = path.join(copy.dataDir, 'anchor.pub.pem');
    await writeFile(publicKey, signer.publicKey.export({ type: 'spki', format: 'pem' }));
    await rm(keyFile);
    const env = { NODE_ENV: 'test', DATABASE_URL: copy.appUrl, DATA_DIR: copy.dataDir };
    const auditor = await runAdmin(['verify-audit', '--public-key', publicKey], env);
    expect(auditor.code, auditor.stderr).toBe(0);
    expect(auditor.stdout).toContain(
      `OK: 4 checkpoints in ${copy.dataDir}/objects/audit-checkpoints/ verified (key ${signer.kid})`,
    );
    const keyless = await runAdmin(['verify-audit'], env);
    expect(keyless.code).toBe(2);
    expect(keyless.stderr).toContain('holds audit checkpoints, and there is no anchor key to check them with');
  });

  it('what anchoring cannot see: a forged event dated after the newest checkpoint passes until the next one, and verify-audit counts it as not anchored yet', async () => {
    const copy = await copyOfHistory();
    const forged = forgedAppend(nth(-1), new Date());
    await withDb(copy.appUrl, (db) => insertEvent(db, forged));
    const { code, stdout } = await copy.verify();
    expect(code).toBe(0);
    expect(stdout).toContain('holds 17 events');
    expect(stdout).toContain('1 event after it is not anchored yet');
  });
});

describe("the application's database role", () => {
  let db: Awaited<ReturnType<typeof createSeparatedDatabase>>;
  let server: TestServer;

  beforeAll(async () => {
    db = await createSeparatedDatabase();
    server = await startTestServer('fs', { DATABASE_URL: db.appUrl, DATABASE_OWNER_URL: db.ownerUrl });
    await fetch(`${server.url}/xrays?limit=1`).then((r) => r.arrayBuffer());
  });
  afterAll(async () => {
    await server?.close();
  });

  it('may only INSERT and SELECT on audit_events: ALTER TABLE … DISABLE TRIGGER, DELETE, TRUNCATE, UPDATE and new triggers are refused', async () => {
    await withDb(db.appUrl, async (app) => {
      const refused = async (sql: string, why: RegExp) => expect(app.query(sql)).rejects.toThrow(why);
      await refused(
        'ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete',
        /must be owner of table audit_events/,
      );
      await refused('ALTER TABLE audit_events DISABLE TRIGGER ALL', /must be owner of table audit_events/);
      await refused('DELETE FROM audit_events', /permission denied for table audit_events/);
      await refused('TRUNCATE audit_events', /permission denied for table audit_events/);
      await refused(`UPDATE audit_events SET outcome = 'denied'`, /permission denied for table audit_events/);
      await refused('DROP TABLE audit_events', /must be owner of table audit_events/);
      await refused(
        'CREATE TRIGGER t BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()',
        /permission denied for table audit_events/,
      );
      await refused('DELETE FROM pgmigrations', /permission denied for table pgmigrations/);
      // What it needs: reading the trail, and the rest of the schema read and written.
      const { rows } = await app.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_events');
      expect(rows[0]?.n).toBeGreaterThan(0);
      await app.query('DELETE FROM tus_uploads WHERE false');
      await app.query('UPDATE xrays SET notes = notes WHERE false');
    });
    expect(await auditTrailPowers(db.appUrl)).toEqual([]);
    // The server's own pool is that login.
    const { rows } = await server.pool.query<{ user: string }>('SELECT current_user AS user');
    expect(db.appUrl).toContain(`//${rows[0]?.user}:`);
  });

  it('production refuses an application role that owns the audit trail or is a superuser', async () => {
    for (const url of [db.ownerUrl, db.adminUrl]) {
      await expect(
        prepareDatabase({ url, ownerUrl: db.ownerUrl, requireSeparation: true, log: silent }),
      ).rejects.toThrow(
        /DATABASE_URL: the application's database role must only INSERT and SELECT on audit_events, but its role \w+ (owns audit_events|is a superuser)/,
      );
    }
    await expect(
      prepareDatabase({ url: db.appUrl, ownerUrl: db.ownerUrl, requireSeparation: true, log: silent }),
    ).resolves.toMatchObject({ separation: 'login', appUrl: db.appUrl });
  });

  it('without DATABASE_OWNER_URL (development, tests), the server still runs as a restricted role: xray_app', async () => {
    const dev = await startTestServer('fs');
    try {
      const { rows } = await dev.pool.query<{ user: string }>('SELECT current_user AS user');
      expect(rows[0]?.user).toBe('xray_app');
      await expect(dev.pool.query('DELETE FROM audit_events')).rejects.toThrow(/permission denied/);
      await expect(
        dev.pool.query('ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete'),
      ).rejects.toThrow(/must be owner/);
    } finally {
      await dev.close();
    }
  });
});

/** A separated database, and a server's settings that anchor every 3 events (or every 200 ms). */
async function quickCheckpointing() {
  const db = await createSeparatedDatabase();
  const env = {
    DATABASE_URL: db.appUrl,
    DATABASE_OWNER_URL: db.ownerUrl,
    AUDIT_CHECKPOINT_EVERY: '3',
    AUDIT_CHECKPOINT_INTERVAL_MS: '200',
  };
  return { db, env };
}

describe('several instances anchoring one chain', () => {
  it('take turns under the advisory lock: every checkpoint verifies and the chain holds them all', async () => {
    const { db, env } = await quickCheckpointing();
    const a = await startTestServer('fs', env);
    // One DATA_DIR, as instances share one object store (and, in development, one anchor key).
    const b = await startTestServer('fs', { ...env, DATA_DIR: a.config.dataDir });
    try {
      for (let round = 0; round < 6; round++) {
        await Promise.all(
          [a, b].flatMap((s) =>
            Array.from({ length: 4 }, () => fetch(`${s.url}/xrays?limit=1`).then((r) => r.arrayBuffer())),
          ),
        );
        await new Promise((r) => setTimeout(r, 150));
      }
      await b.stop();
      await a.stop();
      const names = await a.auditAnchoring.witness.list();
      expect(names.length).toBeGreaterThan(3);
      expect(names.at(-1)).toBe(checkpointName(48));
      const { code, stdout } = await runAdmin(['verify-audit'], {
        NODE_ENV: 'test',
        DATABASE_URL: db.appUrl,
        DATA_DIR: a.config.dataDir,
      });
      expect(code, stdout).toBe(0);
      expect(stdout).toContain(`OK: ${names.length} checkpoints in`);
      expect(stdout).toContain('holds 48 events');
    } finally {
      await b.close();
      await a.close();
    }
  });
});

describe('an instance starting on a long trail', () => {
  it('learns the newest checkpoint before its first look, so it counts only the events after it, never the whole trail', async () => {
    const { db, env } = await quickCheckpointing();
    const a = await startTestServer('fs', env);
    const pool = new pg.Pool({ connectionString: db.appUrl, max: 2 });
    try {
      for (let i = 0; i < 5; i++) await fetch(`${a.url}/xrays?limit=1`).then((r) => r.arrayBuffer());
      await a.stop();
      const newest = (await a.auditAnchoring.witness.list()).at(-1);
      expect(newest).toBeDefined();
      // A new instance's checkpointer; its database reads recorded (the look is the count over `id > $1`).
      const looks: string[] = [];
      const recording = new Proxy(pool, {
        get(target, prop, receiver) {
          if (prop !== 'query') return Reflect.get(target, prop, receiver) as unknown;
          return (text: string, values?: unknown[]) => {
            if (typeof text === 'string' && text.includes('FROM audit_events WHERE id > $1'))
              looks.push(String(values?.[0]));
            return target.query(text, values);
          };
        },
      });
      const signer = await anchorSignerFromPem(await loadOrCreateDevAnchorKey(a.config.dataDir));
      const last = await openCheckpoint(newest ?? '', (await a.auditAnchoring.witness.get(newest ?? '')) ?? '', signer);
      const checkpointer = new AuditCheckpointer({
        pool: recording as unknown as pg.Pool,
        witness: a.auditAnchoring.witness,
        signer,
        every: 1000,
        intervalMs: 3_600_000,
        log: silent,
      });
      expect(await checkpointer.turn(false)).toBeNull();
      expect(looks[0]).toBe(last.headId);
      expect(looks).not.toContain('0');
    } finally {
      await pool.end();
      await a.close();
    }
  });
});
