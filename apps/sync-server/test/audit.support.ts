// What the audit tests share: the actors, a request tagged with its own request id, and the
// events that request left (read straight from audit_events). Servers come from harness.ts.
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { expect } from 'vitest';
import { z } from 'zod';
import type { TestServer } from './harness.ts';
import { runAdmin } from './server-process.ts';

export const PARAMEDIC = 'para-1; paramedic';
export const DOCTOR = 'doc-1; doctor';
export const ADMIN = 'admin-1; admin';
export const USER_AGENT = 'audit-test/1.0';

/** The server options every audit test server runs with (a loopback proxy is trusted). */
export const AUDIT_SERVER_ENV = { TRUST_PROXY: 'loopback' };

export interface EventRow {
  id: string;
  actor_sub: string | null;
  actor_roles: string[];
  action: string;
  xray_id: string | null;
  patient_id: string | null;
  outcome: string;
  client_ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  details: Record<string, unknown>;
}

export async function eventsOf(db: pg.Pool, requestId: string): Promise<EventRow[]> {
  const { rows } = await db.query<EventRow>(
    `SELECT id::text AS id, actor_sub, actor_roles, action, xray_id::text AS xray_id, patient_id, outcome,
            client_ip, user_agent, request_id, details
       FROM audit_events WHERE request_id = $1 ORDER BY audit_events.id`,
    [requestId],
  );
  return rows;
}

export async function countEvents(db: pg.Pool): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_events');
  return rows[0]?.n ?? 0;
}

/**
 * `xray-admin verify-audit` as an operator runs it, with the server's settings in the environment
 * (DATABASE_URL; DATA_DIR, where the checkpoints and the development anchor key are).
 */
export const verifyAuditCli = (env: Record<string, string>) => runAdmin(['verify-audit', '--batch-size', '7'], env);

const IdSchema = z.object({ id: z.string() });
export const idOf = async (res: Response): Promise<string> => IdSchema.parse(await res.json()).id;

/**
 * One request to `baseUrl` as `actor` (undefined: no identity), tagged with a fresh request id
 * (`prefix` before it) so the events it left can be found; the body read as text.
 */
export async function taggedCall(
  baseUrl: string,
  path: string,
  actor: string | undefined,
  init: RequestInit = {},
  prefix = '',
): Promise<{ res: Response; requestId: string; text: string }> {
  const requestId = `${prefix}${randomUUID()}`;
  const res = await fetch(`${baseUrl}${path}`, {
    ...init,
    headers: {
      'X-Request-Id': requestId,
      ...(actor ? { 'X-Test-Actor': actor } : {}),
      ...(init.headers as Record<string, string> | undefined),
    },
  });
  return { res, requestId, text: await res.text() };
}

/** Requests against the server `current()` returns (started in a beforeAll), and the events they left. */
export function auditCalls(current: () => TestServer) {
  /** One request as `actor` (undefined: no identity), tagged with a fresh request id. */
  async function call(
    urlPath: string,
    actor: string | undefined,
    init: { method?: string; headers?: Record<string, string> } = {},
  ) {
    const requestId = randomUUID();
    const res = await fetch(`${current().url}${urlPath}`, {
      method: init.method ?? 'GET',
      headers: {
        'X-Request-Id': requestId,
        'User-Agent': USER_AGENT,
        ...(actor ? { 'X-Test-Actor': actor } : {}),
        ...init.headers,
      },
    });
    await res.arrayBuffer();
    return { res, requestId };
  }

  /** The one event a request left. */
  async function onlyEvent(requestId: string): Promise<EventRow> {
    const events = await eventsOf(current().pool, requestId);
    expect(events).toHaveLength(1);
    const [event] = events;
    if (!event) throw new Error('no event');
    expect(event.request_id).toBe(requestId);
    expect(event.user_agent).toBe(USER_AGENT);
    expect(event.client_ip).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
    return event;
  }

  return { call, onlyEvent };
}
