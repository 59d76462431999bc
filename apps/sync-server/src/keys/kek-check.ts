import { timingSafeEqual } from 'node:crypto';
import type { Pool } from '../db/pool.ts';
import { BOUND_WRAP_LENGTH, BOUND_WRAP_VERSION } from './dek-wrap.ts';
import { kekCheckRepository } from './kek-check.repository.ts';
import type { KeyService } from './key.service.ts';

/** A configured KEK that is not the key its id stands for in this database. */
export class KekMismatchError extends Error {
  override name = 'KekMismatchError';
  constructor(
    readonly kekId: string,
    message: string,
  ) {
    super(message);
  }
}

/** Wraps tried on a KEK whose check value is not recorded yet. */
const SAMPLE_WRAPS = 3;

/**
 * Compares every configured KEK with the check value recorded for its id, and confirms it to the
 * key service (wraps under a KEK are refused until then). A KEK id seen for the first time gets
 * its check value recorded, but only after the KEK opened the X-ray wraps already made under
 * that id, if there are any (a database from before check values, or one whose check value row
 * was removed): a wrong key is never recorded as the right one.
 * Throws KekMismatchError naming the first KEK that does not match; nothing is confirmed then.
 * Also loads which KEKs take bound wraps only (refreshBoundOnly).
 */
export async function confirmKeks(pool: Pool, keys: KeyService): Promise<{ recorded: string[] }> {
  const recorded: string[] = [];
  for (const id of keys.kekIds()) {
    const mine = keys.checkValue(id);
    let stored = await kekCheckRepository.find(pool, id);
    if (!stored) {
      for (const w of await kekCheckRepository.sampleWraps(pool, id, SAMPLE_WRAPS)) {
        try {
          await keys.unwrapDek(w.wrapped, id, w);
        } catch {
          throw new KekMismatchError(
            id,
            `KEK "${id}" does not open the data key of X-ray ${w.xrayId}, which is wrapped under that id: ` +
              'it is not the key X-rays were wrapped with (or that row was changed). Check the KEK setting.',
          );
        }
      }
      stored = await kekCheckRepository.record(pool, id, mine);
      recorded.push(id);
    }
    if (!equal(stored, mine)) {
      keys.confirmKek(id, false);
      throw new KekMismatchError(
        id,
        `KEK "${id}" is not the key recorded for that id in this database (its key check value differs): ` +
          'a wrong or mistyped key. Nothing was wrapped with it. Check the KEK setting.',
      );
    }
    keys.confirmKek(id, true);
  }
  keys.setBoundOnly(await kekCheckRepository.boundOnly(pool));
  return { recorded };
}

/**
 * Reads again which KEKs take bound wraps only (kek_bound_only) into the key service: before an
 * unbound wrap is opened, since `rotate-kek --finish` may have marked its KEK since this process
 * last looked.
 */
export async function refreshBoundOnly(pool: Pool, keys: KeyService): Promise<void> {
  keys.setBoundOnly(await kekCheckRepository.boundOnly(pool));
}

/**
 * For /readyz: every configured KEK still matches the check value recorded for its id. A KEK that
 * no longer does (the row was changed) is unconfirmed, so nothing more is wrapped under it; a
 * database that does not answer changes nothing (the database check reports it).
 */
export async function recheckKeks(pool: Pool, keys: KeyService): Promise<void> {
  const problems: string[] = [];
  await refreshBoundOnly(pool, keys);
  for (const id of keys.kekIds()) {
    const stored = await kekCheckRepository.find(pool, id);
    if (!stored) {
      problems.push(`no check value is recorded for KEK "${id}"`);
      continue;
    }
    const matched = equal(stored, keys.checkValue(id));
    keys.confirmKek(id, matched);
    if (!matched) problems.push(`KEK "${id}" differs from the check value recorded for it`);
  }
  if (problems.length) throw new Error(problems.join('; '));
}

const equal = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && timingSafeEqual(a, b);

/** X-rays whose data key no configured KEK opens: wrapped under `kekId`, with no usable (bound) previous wrap. */
export interface StrandedKek {
  kekId: string;
  xrays: number;
}

/**
 * The KEK ids X-ray rows are wrapped under that this instance does not have, with how many rows
 * cannot be read without them (a row whose previous wrap is under a configured KEK still can).
 * Cheap: the distinct ids come from a walk of the kek_id index (one probe per KEK id), and rows
 * are counted only under ids that are missing.
 */
async function strandedKeks(pool: Pool, configured: string[]): Promise<StrandedKek[]> {
  const { rows: ids } = await pool.query<{ kek_id: string }>(
    `WITH RECURSIVE k AS (
       (SELECT kek_id FROM xrays ORDER BY kek_id LIMIT 1)
       UNION ALL
       SELECT (SELECT x.kek_id FROM xrays x WHERE x.kek_id > k.kek_id ORDER BY x.kek_id LIMIT 1) FROM k WHERE k.kek_id IS NOT NULL
     ) SELECT kek_id FROM k WHERE kek_id IS NOT NULL`,
  );
  const stranded: StrandedKek[] = [];
  for (const { kek_id: kekId } of ids) {
    if (configured.includes(kekId)) continue;
    // Readable through the previous wrap only when it is bound and under a configured KEK, as
    // xray.service.ts decides (an unbound, legacy AES-KW previous wrap is not used).
    const { rows } = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM xrays
        WHERE kek_id = $1
          AND NOT (kek_id_prev IS NOT NULL AND dek_wrapped_prev IS NOT NULL AND kek_id_prev = ANY($2::text[])
                   AND length(dek_wrapped_prev) = $3 AND get_byte(dek_wrapped_prev, 0) = $4)`,
      [kekId, configured, BOUND_WRAP_LENGTH, BOUND_WRAP_VERSION],
    );
    const n = rows[0]?.n ?? 0;
    if (n > 0) stranded.push({ kekId, xrays: n });
  }
  return stranded;
}

/**
 * For /readyz: throws while any X-ray is wrapped under a KEK this instance does not have (a replica
 * missed in a rolling restart wrapped it with a KEK since removed, or a KEK is missing from this
 * replica's settings), naming the KEK ids and how many X-rays each strands. The answer is kept
 * for `cacheMs`, so a load balancer's probes cost one index walk every few seconds.
 */
export function kekCoverageCheck(pool: Pool, keys: KeyService, cacheMs = 5_000): () => Promise<void> {
  let cached: { at: number; result: Promise<StrandedKek[]> } | undefined;
  return async () => {
    const now = Date.now();
    if (!cached || now - cached.at >= cacheMs) {
      const result = strandedKeks(pool, keys.kekIds());
      cached = { at: now, result };
      // A failed look is not kept: the next probe asks again.
      result.catch(() => {
        if (cached?.result === result) cached = undefined;
      });
    }
    const stranded = await cached.result;
    if (stranded.length)
      throw new Error(
        stranded
          .map(
            (s) =>
              `${s.xrays} X-ray(s) are wrapped under KEK "${s.kekId}", which this instance does not have: add it to KEK (from the key backup) and restart`,
          )
          .join('; '),
      );
  };
}
