import pg from 'pg';
import type { Logger } from '../observability/logger.ts';
import { migrate, type MigrateOptions } from './migrate.ts';

/**
 * The role the application drops to when no separate owner is configured (development, tests):
 * a role without login, entered with SET ROLE at connection start.
 */
export const FALLBACK_APP_ROLE = 'xray_app';

/** Tables the application role must not write to at all. */
const OWNER_ONLY_TABLES = ['pgmigrations'];

/**
 * Tables the application role may only read and add to (no UPDATE, DELETE, TRUNCATE): the audit
 * trail, the KEK check values (a removed one would let a mistyped KEK be recorded as the right
 * one), the KEKs that take bound wraps only (a removed one would let unbound wraps open again)
 * and the X-ray change log (a removed tombstone would let a deleted X-ray be uploaded again).
 */
const INSERT_ONLY_TABLES = ['audit_events', 'kek_check_values', 'kek_bound_only', 'xray_changes'];

/** Held while GRANTs run, so instances starting at once do not trip over each other's. */
const GRANTS_LOCK_KEY = 'xray:grants';

export interface PreparedDatabase {
  /** What the application's pools connect with. */
  appUrl: string;
  /** The role the application's statements run as. */
  appRole: string;
  /**
   * login: DATABASE_URL is a login of its own (production). set-role: one login, the application
   * drops to FALLBACK_APP_ROLE on each connection — its privileges are exercised, but a session
   * could RESET ROLE, so it is no boundary. none: the application runs as the schema's owner.
   */
  separation: 'login' | 'set-role' | 'none';
}

export class DatabaseRoleError extends Error {
  override name = 'DatabaseRoleError';
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: 'xray-sync-server (setup)' });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** `url` with `-c role=<role>` in its startup options: every session starts as that role. */
export function withSessionRole(url: string, role: string): string | undefined {
  const parsed = URL.parse(url);
  if (!parsed || !/^postgres(ql)?:$/.test(parsed.protocol)) return undefined;
  const options = parsed.searchParams.get('options');
  parsed.searchParams.set('options', `${options ? `${options} ` : ''}-c role=${role}`);
  return parsed.toString();
}

/**
 * What the application role may do: read and write every table of the schema but the
 * migrations' bookkeeping (nothing) and INSERT_ONLY_TABLES (INSERT and SELECT only: no UPDATE,
 * DELETE, TRUNCATE or TRIGGER; not being the owner, no ALTER TABLE either, so no disabling their
 * triggers) — and use the sequences (nextval). Run by the schema's owner after every migration,
 * so a table a later migration adds is granted too. Idempotent.
 */
export async function grantAppPrivileges(owner: pg.ClientBase, role: string): Promise<void> {
  const r = pg.escapeIdentifier(role);
  const { rows } = await owner.query<{ schema: string }>(
    `SELECT relnamespace::regnamespace::text AS schema FROM pg_class WHERE oid = 'audit_events'::regclass`,
  );
  const schema = rows[0]?.schema;
  if (!schema) throw new DatabaseRoleError('audit_events does not exist: run the migrations first');
  // regnamespace::text is already quoted where it needs to be.
  const table = (name: string) => `${schema}.${pg.escapeIdentifier(name)}`;
  await owner.query('BEGIN');
  try {
    await owner.query(`SELECT pg_advisory_xact_lock(hashtextextended('${GRANTS_LOCK_KEY}', 0))`);
    await owner.query(`GRANT USAGE ON SCHEMA ${schema} TO ${r}`);
    await owner.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${schema} TO ${r}`);
    await owner.query(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ${schema} TO ${r}`);
    for (const t of OWNER_ONLY_TABLES) await owner.query(`REVOKE ALL ON TABLE ${table(t)} FROM ${r}`);
    for (const t of INSERT_ONLY_TABLES) {
      // ALL: also anything granted by hand before (column grants included).
      await owner.query(`REVOKE ALL ON TABLE ${table(t)} FROM ${r}`);
      await owner.query(`GRANT SELECT, INSERT ON TABLE ${table(t)} TO ${r}`);
    }
    await owner.query('COMMIT');
  } catch (err) {
    await owner.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** Creates FALLBACK_APP_ROLE when missing (roles are per cluster: test databases share it). */
async function ensureFallbackRole(owner: pg.ClientBase): Promise<void> {
  const role = pg.escapeIdentifier(FALLBACK_APP_ROLE);
  await owner.query(`DO $$ BEGIN
      CREATE ROLE ${role} NOLOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END $$`);
  const { rows } = await owner.query<{ rolsuper: boolean }>(
    'SELECT rolsuper FROM pg_roles WHERE rolname = current_user',
  );
  // A superuser may SET ROLE to anyone; anyone else needs the membership (PostgreSQL 16+: with SET).
  if (!rows[0]?.rolsuper) await owner.query(`GRANT ${role} TO CURRENT_USER`);
}

/** What the application's role could do to the audit trail that it must not. Empty: nothing. */
export async function auditTrailPowers(appUrl: string): Promise<string[]> {
  return withClient(appUrl, async (c) => {
    const { rows } = await c.query<{
      role: string;
      superuser: boolean;
      owner: string;
      owns: boolean;
      rewrite: boolean;
    }>(
      `SELECT current_user AS role, r.rolsuper AS superuser, t.relowner::regrole::text AS owner,
              pg_has_role(current_user, t.relowner, 'MEMBER') AS owns,
              has_table_privilege(current_user, t.oid, 'UPDATE, DELETE, TRUNCATE, TRIGGER, REFERENCES') AS rewrite
         FROM pg_roles r, pg_class t
        WHERE r.rolname = current_user AND t.oid = 'audit_events'::regclass`,
    );
    const row = rows[0];
    if (!row) return ['its role could not be inspected'];
    const powers: string[] = [];
    if (row.superuser) powers.push(`its role ${row.role} is a superuser`);
    else if (row.owns)
      powers.push(
        `its role ${row.role} owns audit_events (as ${row.owner} or a member of it): it could disable the table's triggers`,
      );
    if (!row.superuser && row.rewrite)
      powers.push(`its role ${row.role} may UPDATE, DELETE, TRUNCATE or add triggers to audit_events`);
    return powers;
  });
}

/**
 * Migrates the schema as its owner, grants the application role what it needs (and no more on
 * audit_events), and says how the application connects.
 *
 * - ownerUrl set: migrations and GRANTs run as its role; DATABASE_URL's login is the application
 *   role. The application role's powers over the audit trail are then checked from its own
 *   connection; `requireSeparation` (production) refuses to go on with any.
 * - ownerUrl unset (development, tests, the embedded database): `url` owns the schema, and the
 *   application drops to FALLBACK_APP_ROLE on every connection (SET ROLE at startup), so the
 *   grants are exercised everywhere — a missing one fails in development, not in production.
 *   When `url`'s role may not create roles, the application runs as the owner, with a warning.
 */
export async function prepareDatabase(opts: {
  url: string;
  ownerUrl: string | undefined;
  requireSeparation: boolean;
  log: Logger;
  /** Lock timeout and retries of the migrations (MIGRATION_* settings); defaults otherwise. */
  migrations?: MigrateOptions;
}): Promise<PreparedDatabase> {
  const { url, ownerUrl, log } = opts;
  await migrate(ownerUrl ?? url, log, opts.migrations);
  let prepared: PreparedDatabase;
  if (ownerUrl) {
    const appRole = await withClient(url, async (c) => {
      const { rows } = await c.query<{ role: string }>('SELECT current_user AS role');
      return rows[0]?.role ?? '';
    });
    const ownerRole = await withClient(ownerUrl, async (owner) => {
      const { rows } = await owner.query<{ role: string; owns: boolean; superuser: boolean }>(
        `SELECT current_user AS role, pg_has_role($1, t.relowner, 'MEMBER') AS owns, r.rolsuper AS superuser
           FROM pg_class t, pg_roles r WHERE t.oid = 'audit_events'::regclass AND r.rolname = $1`,
        [appRole],
      );
      const row = rows[0];
      // Revoking from the owner (or a superuser) would change nothing it can do: leave it, say so below.
      if (row && !row.owns && !row.superuser) await grantAppPrivileges(owner, appRole);
      return row?.role ?? '';
    });
    log.info({ appRole, ownerRole }, 'database: migrations as the owner role, the application as its own role');
    prepared = { appUrl: url, appRole, separation: 'login' };
  } else {
    const appUrl = withSessionRole(url, FALLBACK_APP_ROLE);
    const provisioned =
      appUrl !== undefined &&
      (await withClient(url, async (owner) => {
        try {
          await ensureFallbackRole(owner);
          await grantAppPrivileges(owner, FALLBACK_APP_ROLE);
          return true;
        } catch (err) {
          log.warn({ err }, `database: could not set up the role ${FALLBACK_APP_ROLE}`);
          return false;
        }
      }));
    if (provisioned && appUrl) {
      log.warn(
        { appRole: FALLBACK_APP_ROLE },
        'DATABASE_OWNER_URL is not set: one login owns the schema and the application drops to a restricted role on each connection, which is no boundary (set DATABASE_OWNER_URL and give DATABASE_URL a role of its own; production requires it)',
      );
      prepared = { appUrl, appRole: FALLBACK_APP_ROLE, separation: 'set-role' };
    } else {
      log.warn(
        'DATABASE_OWNER_URL is not set and no restricted role could be made: the application runs as the owner of the audit trail and could rewrite it (production requires DATABASE_OWNER_URL)',
      );
      prepared = { appUrl: url, appRole: '', separation: 'none' };
    }
  }
  if (prepared.separation !== 'none') {
    const powers = await auditTrailPowers(prepared.appUrl);
    if (powers.length) {
      const message = `DATABASE_URL: the application's database role must only INSERT and SELECT on audit_events, but ${powers.join('; ')}. Give the application a role of its own and DATABASE_OWNER_URL the owner's (docs/operations.md, "Database roles").`;
      if (opts.requireSeparation) throw new DatabaseRoleError(message);
      log.warn(message);
    }
  } else if (opts.requireSeparation) {
    throw new DatabaseRoleError('DATABASE_OWNER_URL is required: the application must not own the audit trail.');
  }
  return prepared;
}
