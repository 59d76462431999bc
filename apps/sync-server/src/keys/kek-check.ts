import { timingSafeEqual } from 'node:crypto';
import type { Pool } from '../db/pool.ts';
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
