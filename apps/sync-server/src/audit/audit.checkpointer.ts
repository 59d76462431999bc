import type { Pool, PoolClient } from '../db/pool.ts';
import type { Logger } from '../observability/logger.ts';
import type { AuditAnchorSigner } from './audit-anchor.key.ts';
import {
  checkpointName,
  CheckpointInvalidError,
  openCheckpoint,
  sameCheckpoint,
  signCheckpoint,
  type AuditCheckpoint,
  type StoredCheckpoint,
} from './audit.checkpoint.ts';
import { auditRepository } from './audit.repository.ts';
import type { AuditWitness } from './audit.witness.ts';

/** Session advisory lock held by the one instance writing a checkpoint (the others skip their turn). */
export const CHECKPOINT_LOCK_KEY = 'xray:audit-checkpoint';

/** Longest pause between two looks for a due checkpoint. */
export const MAX_POLL_MS = 1000;

export interface CheckpointerOptions {
  pool: Pool;
  witness: AuditWitness;
  signer: AuditAnchorSigner;
  /** A checkpoint once this many events are not covered by one… */
  every: number;
  /** …or once the oldest of them is this old. */
  intervalMs: number;
  log: Logger;
  /** Called with each checkpoint this instance wrote or found (metrics). */
  onCheckpoint?: (cp: AuditCheckpoint) => void;
  /** Called when a turn failed (metrics). */
  onFailure?: () => void;
}

/**
 * Anchors the audit chain outside PostgreSQL: every `every` events or `intervalMs`, whichever
 * comes first, a checkpoint {count, head id, head hash, time} signed with the anchor key goes to
 * the witness, one object per checkpoint, never overwritten. `xray-admin verify-audit` then
 * checks that the chain still holds every checkpoint's head with the same hash at the same count,
 * and that nothing after the newest is dated before it.
 *
 * Every instance runs one and looks each second (or each `intervalMs` when shorter) with one
 * cheap query; the one that finds a checkpoint due takes a session advisory lock and writes it,
 * the others skip their turn. The newest checkpoint this instance knows of is kept in memory,
 * brought up to date from the witness (signatures checked) before each write, so instances
 * rarely write twice for the same events; when they do, the second write finds the name taken.
 */
export class AuditCheckpointer {
  private newest: StoredCheckpoint | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = false;
  /** A run of failed turns is logged as an error once, not every second (a database outage). */
  private failing = false;
  private readonly pollMs: number;

  constructor(private readonly o: CheckpointerOptions) {
    this.pollMs = Math.min(MAX_POLL_MS, o.intervalMs);
  }

  start(): void {
    this.stopped = false;
    const tick = () => {
      this.timer = setTimeout(() => {
        void this.turn(false).finally(() => {
          if (!this.stopped) tick();
        });
      }, this.pollMs);
      this.timer.unref();
    };
    tick();
  }

  /** Stops looking; anchors whatever was appended since the newest checkpoint (at most `budgetMs`). */
  async stop(budgetMs = 5000): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.turn(true),
      new Promise((resolve) => {
        timer = setTimeout(resolve, budgetMs);
      }),
    ]);
    clearTimeout(timer);
  }

  /**
   * One turn: writes a checkpoint when one is due (`force`: whenever any event is not covered).
   * Returns it, or null when none was due or another instance holds the lock. Never throws: a
   * failed turn is logged, and the next turn tries again.
   */
  async turn(force: boolean): Promise<AuditCheckpoint | null> {
    if (this.running) await this.running.catch(() => undefined);
    const run = this.checkpointIfDue(force).then(
      (cp) => {
        if (this.failing) this.o.log.info({ witness: this.o.witness.location }, 'audit checkpoints work again');
        this.failing = false;
        return cp;
      },
      (err: unknown) => {
        const message = 'an audit checkpoint could not be looked for or written; retrying each turn';
        if (this.failing) this.o.log.debug({ err }, message);
        else this.o.log.error({ err, witness: this.o.witness.location }, message);
        this.failing = true;
        this.o.onFailure?.();
        return null;
      },
    );
    this.running = run;
    try {
      return await run;
    } finally {
      if (this.running === run) this.running = undefined;
    }
  }

  private async isDue(force: boolean): Promise<boolean> {
    const since = await auditRepository.unanchored(this.o.pool, this.newest?.headId ?? null);
    if (since.count === 0) return false;
    if (force || since.count >= this.o.every) return true;
    return since.oldest !== null && since.now.getTime() - since.oldest.getTime() >= this.o.intervalMs;
  }

  private async checkpointIfDue(force: boolean): Promise<AuditCheckpoint | null> {
    // After a start the newest checkpoint is unknown, and the look below would count the whole
    // trail (slow enough on a big one to hit the statement timeout every turn): learn it first.
    if (this.newest === undefined) await this.catchUp();
    // The cheap look first, without a lock or the witness: most turns end here.
    if (!(await this.isDue(force))) return null;
    const client = await this.o.pool.connect();
    let broken = false;
    try {
      const { rows } = await client.query<{ locked: boolean }>(
        `SELECT pg_try_advisory_lock(hashtextextended('${CHECKPOINT_LOCK_KEY}', 0)) AS locked`,
      );
      if (!rows[0]?.locked) return null;
      try {
        await this.catchUp();
        if (!(await this.isDue(force))) return null;
        return await this.write(client);
      } catch (err) {
        broken = true;
        throw err;
      } finally {
        if (!broken) await client.query(`SELECT pg_advisory_unlock(hashtextextended('${CHECKPOINT_LOCK_KEY}', 0))`);
      }
    } finally {
      // A connection that failed mid-way may sit in an open transaction: drop it (and its lock).
      client.release(broken);
    }
  }

  /** Takes in checkpoints other instances wrote since the newest this one knows of. */
  private async catchUp(): Promise<void> {
    const names = await this.o.witness.list(this.newest?.name);
    for (const name of names.reverse()) {
      const body = await this.o.witness.get(name);
      if (body === null) continue;
      try {
        const cp = await openCheckpoint(name, body, this.o.signer);
        if (this.newest === undefined || cp.count > this.newest.count) this.newest = cp;
        return;
      } catch (err) {
        if (!(err instanceof CheckpointInvalidError)) throw err;
        this.o.log.error(
          { witness: this.o.witness.location, name, reason: err.message },
          'an object among the audit checkpoints does not verify; verify-audit reports it',
        );
      }
    }
  }

  private async write(client: PoolClient): Promise<AuditCheckpoint | null> {
    const head = await auditRepository.lockedHead(client);
    if (!head) return null;
    const count = await this.countUpTo(head.id);
    const cp: AuditCheckpoint = { count, headId: head.id, headHash: head.hash, time: head.time };
    const name = checkpointName(count);
    const outcome = await this.o.witness.put(name, await signCheckpoint(cp, this.o.signer));
    if (outcome === 'exists') {
      const existing = await this.o.witness.get(name);
      const same = existing !== null && sameCheckpoint(await openCheckpoint(name, existing, this.o.signer), cp);
      if (!same) {
        this.o.log.error(
          { witness: this.o.witness.location, name, headId: cp.headId },
          'a checkpoint of this many audit events already exists with another head: the chain was rewritten; verify-audit reports where',
        );
        return null;
      }
    } else {
      this.o.log.info({ count, headId: head.id, witness: this.o.witness.location }, 'audit checkpoint written');
    }
    this.newest = { ...cp, name };
    this.o.onCheckpoint?.(cp);
    return cp;
  }

  /**
   * The chain's length up to `headId`: counted on from the newest checkpoint when its head is
   * still there with its hash (a range of the primary key), else from the start, loudly.
   */
  private async countUpTo(headId: string): Promise<number> {
    const newest = this.newest;
    if (newest && BigInt(newest.headId) <= BigInt(headId)) {
      if ((await auditRepository.hashOf(this.o.pool, newest.headId)) === newest.headHash)
        return newest.count + (await auditRepository.countBetween(this.o.pool, newest.headId, headId));
      this.o.log.error(
        { checkpoint: newest.name, headId: newest.headId },
        "the audit chain no longer holds the newest checkpoint's head with its hash: it was cut or rewritten; verify-audit reports where",
      );
    }
    return auditRepository.countBetween(this.o.pool, null, headId);
  }
}
