import { randomInt, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { Config } from '../src/config/config.ts';
import { asOwner, type TestServer } from './harness.ts';

/** From now until the returned function runs, every X-ray insert takes `seconds` (a slow database). */
export async function slowXrayInserts(server: TestServer, seconds: number): Promise<() => Promise<void>> {
  const name = `test_slow_insert_${randomUUID().replaceAll('-', '')}`;
  await asOwner(
    server,
    `CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN PERFORM pg_sleep(${seconds}); RETURN NEW; END $$;
     CREATE TRIGGER ${name} BEFORE INSERT ON xrays FOR EACH ROW EXECUTE FUNCTION ${name}();`,
  );
  return async () => {
    await asOwner(server, `DROP TRIGGER ${name} ON xrays; DROP FUNCTION ${name}();`);
  };
}

/**
 * Waits until an X-ray insert sits in slowXrayInserts' pg_sleep (the final PATCH is being stored),
 * instead of guessing how long the PATCH takes to get there on a busy machine. Asked as the
 * database's owner: the application's role does not see other sessions' queries.
 */
export async function untilStoring(server: { config: Config }, final: Promise<unknown>): Promise<void> {
  // A final PATCH that fails or is answered first: its answer is for the test to judge.
  let answered = false;
  void final.then(
    () => (answered = true),
    () => (answered = true),
  );
  const owner = new pg.Client({ connectionString: server.config.db.ownerUrl ?? server.config.db.url });
  await owner.connect();
  try {
    for (let i = 0; i < 1200 && !answered; i++) {
      const { rows } = await owner.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE datname = current_database() AND wait_event = 'PgSleep' AND query ILIKE '%INSERT INTO xrays%'`,
      );
      if ((rows[0]?.n ?? 0) > 0) return;
      await sleep(25);
    }
  } finally {
    await owner.end();
  }
  if (!answered) throw new Error('no X-ray insert under way 30 s after the final PATCH was sent');
}

/** Inserts held by holdInsertsFor. */
export interface HeldInserts {
  /** Sessions waiting on an advisory lock: on this hold's, or (`any`) on any (a SOP UID's lock too). */
  waiting(any?: boolean): Promise<number>;
  /** Lets the held inserts go on. */
  release(): Promise<void>;
  /** Lets them go, and removes the trigger. */
  drop(): Promise<void>;
}

/**
 * Holds every insert into `table` of a row for `patientId` (a transaction stopped at that exact
 * step, as a slow disk would) until `release`: a trigger waits on an advisory lock this holds.
 */
export async function holdInsertsFor(
  server: TestServer,
  table: 'xrays' | 'dicom_instances',
  patientId: string,
): Promise<HeldInserts> {
  const key = 900_000 + randomInt(100_000);
  const name = `test_hold_${randomUUID().replaceAll('-', '')}`;
  await asOwner(
    server,
    `CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
       IF NEW.patient_id = '${patientId}' THEN PERFORM pg_advisory_xact_lock(${key}); END IF;
       RETURN NEW;
     END $$;
     CREATE TRIGGER ${name} BEFORE INSERT ON ${table} FOR EACH ROW EXECUTE FUNCTION ${name}();`,
  );
  const lock = await server.pool.connect();
  await lock.query('SELECT pg_advisory_lock($1)', [key]);
  let held = true;
  const release = async () => {
    if (!held) return;
    held = false;
    await lock.query('SELECT pg_advisory_unlock($1)', [key]);
  };
  return {
    waiting: async (any = false) => {
      const { rows } = await server.pool.query<{ n: number }>(
        // In this server's database only: pg_locks lists the whole cluster's, other test files' too.
        `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
            AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
            ${any ? '' : 'AND objid = $1'}`,
        any ? [] : [key],
      );
      return rows[0]!.n;
    },
    release,
    drop: async () => {
      await release();
      lock.release();
      await asOwner(server, `DROP TRIGGER ${name} ON ${table}; DROP FUNCTION ${name}();`);
    },
  };
}
