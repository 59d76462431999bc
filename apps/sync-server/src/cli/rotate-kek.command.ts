import { timingSafeEqual } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pMap from 'p-map';
import { parseArgs } from 'node:util';
import { appendAudit, systemContext } from '../audit/audit.service.ts';
import { loadConfig } from '../config/config.ts';
import { createPool, inTransaction, type Pool } from '../db/pool.ts';
import { rawDekBytes } from '../xre1/index.ts';
import { BOUND_WRAP_LENGTH } from '../keys/dek-wrap.ts';
import { loadOrCreateDevKeys } from '../keys/dev-keys.ts';
import { confirmKeks, KekMismatchError } from '../keys/kek-check.ts';
import { kekCheckRepository } from '../keys/kek-check.repository.ts';
import { createConfigKeyService, type KeyService } from '../keys/key.service.ts';
import { createObjectStore, type ObjectStore } from '../storage/index.ts';
import { writeRecord } from '../xrays/xray-record.ts';
import { toRecord, XRAY_ROW, type XrayRecord, type XrayRow } from '../xrays/xray.repository.ts';
import { EXIT, type Command, type CommandIO } from './command.ts';

interface Row {
  id: string;
  patient_id: string;
  object_key: string;
  dek_wrapped: Buffer;
  kek_id: string;
}

/** Rows whose data key is not yet bound and wrapped under KEK $1 (a bound wrap has its own length). */
const NOT_ON_TARGET = `(kek_id <> $1 OR octet_length(dek_wrapped) <> ${BOUND_WRAP_LENGTH})`;
/** Passes over the stragglers (X-rays stored on the old KEK meanwhile, rows locked at the time). */
const MAX_PASSES = 5;
const actor = { sub: 'xray-admin rotate-kek', roles: ['admin'] };

const usage = `xray-admin rotate-kek --to <kid> [--batch-size N] [--record-new-kek]
xray-admin rotate-kek --to <kid> --finish [--batch-size N]

Re-wraps every X-ray's data key under the KEK <kid>, bound to its X-ray and object (objects are
never rewritten). Reads the server's configuration (DATABASE_URL, KEK, UPLOAD_PRIVATE_KEY; or the
development keys in DATA_DIR); the X-rays' current KEKs and <kid> must all be listed in KEK.

Before any row changes, every configured KEK is compared with the key check value recorded for its
id, and a KEK that differs is refused. A KEK with no recorded check value is refused too: replicas
record it when they start with it, so give them a new KEK first; --record-new-kek records it from
this configuration instead (only when no replica has the key yet, and you checked it by other
means). Each new wrap is unwrapped again and compared with the data
key before it replaces anything; the previous wrap is kept beside it. Small transactions with SKIP
LOCKED: an interrupted run is simply run again. Ends with a re-check for X-rays still on other KEKs.
Each re-wrap is audited (xray.rekey). Each X-ray's recovery record (the sealed copy of its row
beside its object) is sealed again under <kid> with the new wrap before the batch commits: one
small PUT per X-ray.

--finish, once every replica has <kid>: checks that every X-ray is on <kid> and that every new wrap
opens, and only then removes the previous wraps (audited as xray.rekey, step "finish"). Then no
X-ray holds an unbound wrap: every configured KEK is recorded as taking bound wraps only
(kek_bound_only), and servers refuse an unbound wrap under it from then on.
Re-wrapping to the current KEK binds X-rays stored before wraps were bound.`;

/** `xray-admin rotate-kek`: re-wraps data keys under another KEK, then (`--finish`) drops the previous wraps. */
export const rotateKekCommand: Command = {
  name: 'rotate-kek',
  summary: 'Re-wrap every X-ray data key under the KEK <kid> (checked, resumable); --finish drops the old wraps',
  usage,

  async run(args, io) {
    const { values } = parseArgs({
      args,
      options: {
        to: { type: 'string' },
        finish: { type: 'boolean', default: false },
        'record-new-kek': { type: 'boolean', default: false },
        'batch-size': { type: 'string', default: '200' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    });
    if (values.help) {
      io.out(usage);
      return EXIT.ok;
    }
    const to = values.to;
    if (!to) {
      io.err('--to <kid> is required: the KEK id to re-wrap under.');
      return EXIT.failed;
    }
    const batchSize = Number(values['batch-size']);
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) {
      io.err('--batch-size must be an integer from 1 to 10000');
      return EXIT.failed;
    }
    const config = loadConfig(io.env);
    if (!config.db.url) {
      io.err('DATABASE_URL is not set: point it at the sync server database.');
      return EXIT.failed;
    }
    const keys = await createConfigKeyService(config.keys ?? (await loadOrCreateDevKeys(config.dataDir)));
    if (!keys.hasKek(to)) {
      io.err(`KEK "${to}" is not configured: add it to KEK (id:base64) before rotating to it.`);
      return EXIT.failed;
    }
    const pool = createPool(config.db.url, 2);
    const store = await createObjectStore(config.storage);
    try {
      // A KEK with no recorded check value has nothing to be compared with: a mistyped one would be
      // recorded as the right one. Replicas record it when they start with it (or the operator says so).
      if (!values['record-new-kek']) {
        const unrecorded: string[] = [];
        for (const id of keys.kekIds()) if (!(await kekCheckRepository.find(pool, id))) unrecorded.push(id);
        if (unrecorded.length) {
          io.err(
            `No key check value is recorded for KEK ${unrecorded.map((id) => `"${id}"`).join(', ')}, so a mistyped key ` +
              'could not be told from the right one. Give it to the replicas first (the first one to start with it ' +
              'records it), then run rotate-kek again; or, only if no replica has that key yet and you checked it by ' +
              'other means, pass --record-new-kek to record it from this configuration. No X-ray was changed.',
          );
          return EXIT.failed;
        }
      }
      // Every configured KEK against its recorded check value, before anything is read or changed.
      try {
        const { recorded } = await confirmKeks(pool, keys);
        for (const id of recorded) {
          io.out(
            `KEK "${id}" had no recorded check value: recorded it from this configuration. Replicas given ` +
              'another key under that id will now refuse to start (--record-new-kek).',
          );
        }
      } catch (err) {
        if (!(err instanceof KekMismatchError)) throw err;
        io.err(`${err.message}\nNo X-ray was changed.`);
        return EXIT.failed;
      }
      return values.finish
        ? await finish(pool, keys, to, batchSize, io)
        : await rotate(pool, store, keys, to, batchSize, io);
    } finally {
      await pool.end();
    }
  },
};

const count = async (pool: Pool, sql: string, params: unknown[]): Promise<number> =>
  (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM xrays WHERE ${sql}`, params)).rows[0]?.n ?? 0;

async function rotate(
  pool: Pool,
  store: ObjectStore,
  keys: KeyService,
  to: string,
  batchSize: number,
  io: CommandIO,
): Promise<number> {
  // Refused before any row changes: a KEK the X-rays need that this run does not have…
  const { rows: sources } = await pool.query<{ kek_id: string }>(
    `SELECT DISTINCT kek_id FROM xrays WHERE ${NOT_ON_TARGET}`,
    [to],
  );
  const missing = sources.map((r) => r.kek_id).filter((id) => !keys.hasKek(id));
  if (missing.length) {
    io.err(
      `X-rays are wrapped under KEK ${missing.join(', ')}, which is not configured: add it to KEK. No X-ray was changed.`,
    );
    return EXIT.failed;
  }
  // …and an unfinished rotation to another KEK (each X-ray keeps one previous wrap).
  const { rows: pending } = await pool.query<{ kek_id: string }>(
    'SELECT DISTINCT kek_id FROM xrays WHERE dek_wrapped_prev IS NOT NULL AND kek_id <> $1',
    [to],
  );
  if (pending.length) {
    const other = pending.map((r) => r.kek_id).join(', ');
    io.err(
      `A rotation to ${other} has not been finished (X-rays keep their previous wraps): run ` +
        `rotate-kek --to ${other} --finish first. No X-ray was changed.`,
    );
    return EXIT.failed;
  }

  const failed = new Map<string, string>();
  let moved = 0;
  let remaining = 0;
  for (let pass = 1; pass <= MAX_PASSES; pass++) {
    for (;;) {
      // SKIP LOCKED: two operators (or a crash and a rerun) never fight over a row.
      const n = await inTransaction(pool, async (tx) => {
        const { rows } = await tx.query<Row>(
          `SELECT id, patient_id, object_key, dek_wrapped, kek_id FROM xrays
            WHERE ${NOT_ON_TARGET} AND NOT (id = ANY($3::uuid[]))
            ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED`,
          [to, batchSize, [...failed.keys()]],
        );
        const rewrapped: XrayRecord[] = [];
        for (const r of rows) {
          let wrapped: Uint8Array;
          try {
            wrapped = await verifiedRewrap(keys, r, to);
          } catch (err) {
            failed.set(r.id, err instanceof Error ? err.message : String(err));
            continue;
          }
          // The previous wrap stays beside the new one until --finish.
          const { rows: updated } = await tx.query<XrayRow>(
            `UPDATE xrays SET dek_wrapped = $2, kek_id = $3, dek_wrapped_prev = dek_wrapped, kek_id_prev = kek_id
              WHERE id = $1 RETURNING ${XRAY_ROW}`,
            [r.id, Buffer.from(wrapped), to],
          );
          if (updated[0]) rewrapped.push(toRecord(updated[0]));
          await appendAudit(tx, {
            context: systemContext(actor),
            action: 'xray.rekey',
            outcome: 'success',
            xrayId: r.id,
            patientId: r.patient_id,
            details: { fromKek: r.kek_id, toKek: to, bound: true, previousKept: true },
          });
          moved++;
        }
        // The recovery records follow, before the batch commits (a failed PUT rolls the batch back).
        await pMap(rewrapped, (x) => writeRecord(store, keys, x), { concurrency: 16 });
        return rows.length;
      });
      if (n > 0) io.out(`re-wrapped ${moved} so far`);
      if (n < batchSize) break;
    }
    // The re-check: X-rays stored under another KEK meanwhile, or locked when their turn came.
    remaining = await count(pool, `${NOT_ON_TARGET} AND NOT (id = ANY($2::uuid[]))`, [to, [...failed.keys()]]);
    if (remaining === 0) break;
    if (pass < MAX_PASSES) {
      io.out(`${remaining} X-rays still on other KEKs (stored or locked meanwhile): another pass`);
      await sleep(200 * pass);
    }
  }

  for (const [id, reason] of [...failed].slice(0, 20)) io.err(`X-ray ${id} left as it was: ${reason}`);
  io.out(`OK: ${moved} X-rays re-wrapped under ${to}; ${remaining + failed.size} remaining on other KEKs.`);
  if (failed.size > 0) {
    io.err(
      `${failed.size} X-rays could not be re-wrapped (their data key does not open for them); nothing else changed for them.`,
    );
    return EXIT.problem;
  }
  if (remaining > 0) {
    io.err(`Still X-rays on other KEKs: is KEK_CURRENT_ID on every replica ${to}? Run rotate-kek again.`);
    return EXIT.problem;
  }
  io.out(`Previous wraps are kept. Once every replica has KEK ${to}, run: xray-admin rotate-kek --to ${to} --finish`);
  return EXIT.ok;
}

/**
 * The new wrap of one X-ray's data key, bound to it, and proven: unwrapped again and compared with
 * the key it came from before it may replace anything. Raw key bytes are zeroed after the compare.
 */
async function verifiedRewrap(keys: KeyService, r: Row, to: string): Promise<Uint8Array> {
  const binding = { xrayId: r.id, objectKey: r.object_key };
  const dek = await keys.unwrapDek(new Uint8Array(r.dek_wrapped), r.kek_id, binding, { extractable: true });
  const { wrapped } = await keys.wrapDek(dek, binding, to);
  const again = await keys.unwrapDek(wrapped, to, binding, { extractable: true });
  const [a, b] = await Promise.all([rawDekBytes(dek), rawDekBytes(again)]);
  try {
    if (!timingSafeEqual(a, b)) throw new Error(`the new wrap of X-ray ${r.id} does not give back its data key`);
  } finally {
    a.fill(0);
    b.fill(0);
  }
  return wrapped;
}

class FinishRefused extends Error {}

async function finish(pool: Pool, keys: KeyService, to: string, batchSize: number, io: CommandIO): Promise<number> {
  const stragglers = await count(pool, NOT_ON_TARGET, [to]);
  if (stragglers > 0) {
    io.err(
      `${stragglers} X-rays are not yet wrapped under ${to}: run rotate-kek --to ${to} first. No previous wrap was removed.`,
    );
    return EXIT.problem;
  }
  // First every new wrap must open (read-only), before a single previous wrap goes.
  const bad: string[] = [];
  let checked = 0;
  for (let after: string | null = null; ;) {
    const { rows }: { rows: Row[] } = await pool.query<Row>(
      `SELECT id, patient_id, object_key, dek_wrapped, kek_id FROM xrays
        WHERE dek_wrapped_prev IS NOT NULL AND ($1::uuid IS NULL OR id > $1::uuid) ORDER BY id LIMIT $2`,
      [after, batchSize],
    );
    for (const r of rows) {
      if (!(await opens(keys, r, to))) bad.push(r.id);
    }
    checked += rows.length;
    const last: Row | undefined = rows[rows.length - 1];
    if (!last || rows.length < batchSize) break;
    after = last.id;
  }
  if (bad.length) {
    for (const id of bad.slice(0, 20)) io.err(`X-ray ${id}: its new wrap does not open under ${to}`);
    io.err(`${bad.length} of ${checked} new wraps do not open: no previous wrap was removed.`);
    return EXIT.problem;
  }
  io.out(`${checked} new wraps open under ${to}; removing the previous ones`);

  let removed = 0;
  try {
    for (;;) {
      const n = await inTransaction(pool, async (tx) => {
        const { rows } = await tx.query<Row & { kek_id_prev: string }>(
          `SELECT id, patient_id, object_key, dek_wrapped, kek_id, kek_id_prev FROM xrays
            WHERE dek_wrapped_prev IS NOT NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
          [batchSize],
        );
        // Checked again under the row lock: what is removed is exactly what was proven redundant.
        for (const r of rows) {
          if (!(await opens(keys, r, to)))
            throw new FinishRefused(`X-ray ${r.id}'s wrap changed and does not open under ${to}`);
        }
        if (rows.length === 0) return 0;
        await tx.query('UPDATE xrays SET dek_wrapped_prev = NULL, kek_id_prev = NULL WHERE id = ANY($1::uuid[])', [
          rows.map((r) => r.id),
        ]);
        for (const r of rows) {
          await appendAudit(tx, {
            context: systemContext(actor),
            action: 'xray.rekey',
            outcome: 'success',
            xrayId: r.id,
            patientId: r.patient_id,
            details: { step: 'finish', kek: to, previousRemoved: r.kek_id_prev },
          });
        }
        return rows.length;
      });
      removed += n;
      if (n > 0) io.out(`removed ${removed} previous wraps so far`);
      if (n < batchSize) break;
    }
  } catch (err) {
    if (!(err instanceof FinishRefused)) throw err;
    io.err(
      `${err.message}; that batch kept its previous wraps (${removed} removed before). Run --finish again after checking it.`,
    );
    return EXIT.problem;
  }

  // The re-check: nothing left behind, nothing moved off the KEK meanwhile.
  const kept = await count(pool, 'dek_wrapped_prev IS NOT NULL', []);
  const off = await count(pool, NOT_ON_TARGET, [to]);
  if (kept > 0 || off > 0) {
    io.err(
      `${kept} previous wraps are still kept (rows locked meanwhile) and ${off} X-rays are on other KEKs: run --finish again.`,
    );
    return EXIT.problem;
  }
  // No X-ray holds an unbound wrap now, current or previous: from here on one can only be an old
  // wrap put on a row, under any of these KEKs. The application role cannot remove these records.
  await kekCheckRepository.markBoundOnly(pool, [...new Set([to, ...keys.kekIds()])]);
  const { rows: used } = await pool.query<{ kek_id: string }>('SELECT DISTINCT kek_id FROM xrays');
  const unused = keys.kekIds().filter((id) => !used.some((u) => u.kek_id === id));
  io.out(
    `OK: every X-ray's data key opens under ${to}; ${removed} previous wraps removed, 0 kept; ` +
      `unbound wraps are refused from now on under KEK ${[...new Set([to, ...keys.kekIds()])].join(', ')}.` +
      (unused.length
        ? ` No X-ray needs KEK ${unused.join(', ')} any more (keep it while backups from before need it).`
        : ''),
  );
  return EXIT.ok;
}

/** Whether the row's (new) wrap is under `to` and opens for its X-ray and object. */
async function opens(keys: KeyService, r: Row, to: string): Promise<boolean> {
  if (r.kek_id !== to) return false;
  try {
    await keys.unwrapDek(new Uint8Array(r.dek_wrapped), r.kek_id, { xrayId: r.id, objectKey: r.object_key });
    return true;
  } catch {
    return false;
  }
}
