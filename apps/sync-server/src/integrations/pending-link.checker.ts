import { backoffDelay, identityBrief, type Link } from '@xray/shared';
import { appendAudit, systemContext } from '../audit/audit.service.ts';
import { inTransaction, type Pool } from '../db/pool.ts';
import type { OutboxWriter } from '../events/outbox.repository.ts';
import { identityMismatchIfNew, linkBrief, linkInvalidIfSo, xrayUpdated } from '../events/xray.events.ts';
import { decideIdentity } from '../ingest/identity.ts';
import type { Logger } from '../observability/logger.ts';
import { xrayChangeRepository } from '../xrays/xray-changes.repository.ts';
import { xrayLinkRepository, type PendingLink } from '../xrays/xray-link.repository.ts';
import { storedLink, type LinkVerifier } from './link.verifier.ts';

export interface PendingLinkCheckerOptions {
  /** How often to look for due links; also the first re-check delay. */
  intervalMs: number;
  /** Longest wait between two checks of one link. */
  maxDelayMs: number;
  batchSize?: number;
  /** A claimed link is this instance's for this long (longer than a background check with retries). */
  leaseMs?: number;
}

/**
 * Settles pending links in the background, on every instance: claims due X-rays with
 * FOR UPDATE SKIP LOCKED (never two instances on one X-ray), asks the Patient Service with its
 * full timeout and retries, and either settles the link — row, `xray.updated` (cause
 * `link_check`), `xray.link_invalid` when invalid, the identity check decided again with the
 * record it brought (`xray.identity_mismatch` when that finds one), and an audit event in one
 * transaction — or
 * looks again later with exponential backoff. Never gives up: a link stays pending, and visible
 * as such, until the Patient Service answers.
 */
export class PendingLinkChecker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;

  constructor(
    private readonly deps: {
      pool: Pool;
      links: LinkVerifier;
      outbox: OutboxWriter;
      log: Logger;
      options: PendingLinkCheckerOptions;
    },
  ) {}

  start(): void {
    if (!this.stopped || !this.deps.links.enabled) return;
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One turn; returns how many links it looked at. */
  async runOnce(): Promise<number> {
    const { options } = this.deps;
    const due = await xrayLinkRepository.claimDue(this.deps.pool, options.batchSize ?? 20, options.leaseMs ?? 120_000);
    await Promise.all(due.map((p) => this.check(p)));
    return due.length;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.runOnce()
        .catch((err: unknown) => this.deps.log.error({ err }, 'pending link check failed'))
        .then(() => this.schedule(this.deps.options.intervalMs));
    }, delayMs);
    this.timer.unref();
  }

  private async check(p: PendingLink): Promise<void> {
    const { links, pool, options, log } = this.deps;
    const link = await links.verify(p.patientId, p.consultationId, 'background');
    if (link.status === 'pending') {
      const delay = backoffDelay(p.attempts + 1, { baseMs: options.intervalMs, maxMs: options.maxDelayMs });
      await xrayLinkRepository.defer(pool, p, delay);
      return;
    }
    await this.settle(p, link);
    log.info({ xrayId: p.id, status: link.status, reason: link.reason }, 'pending link settled');
  }

  private async settle(p: PendingLink, link: Link): Promise<void> {
    await inTransaction(this.deps.pool, async (tx) => {
      const current = await xrayLinkRepository.lockById(tx, p.id);
      // Deleted, corrected or settled meanwhile: that change scheduled its own check, if any.
      if (
        !current ||
        current.link.status !== 'pending' ||
        current.patientId !== p.patientId ||
        current.consultationId !== p.consultationId
      )
        return;
      // The paramedic's patient decision sent with the X-ray stays with its link; the file's own
      // PatientID naming another patient without one is never settled as verified.
      const issuer = this.deps.links.patientIdIssuer;
      const settled: Link = storedLink(link, current, current, issuer);
      // An identity left unknown for want of the record is decided now that it is here.
      const identity = decideIdentity({
        dicom: current.dicom,
        patientId: current.patientId,
        issuer,
        link: settled,
        override: current.identity.override,
      });
      const updated = await xrayLinkRepository.setLink(tx, p.id, settled, identity);
      updated.changeSeq = await xrayChangeRepository.record(tx, {
        xrayId: updated.id,
        kind: 'link_settled',
        actorSub: null,
        ownerSub: updated.capturedBy.sub,
      });
      const identityChange = { before: identityBrief(current.identity), after: identityBrief(identity) };
      const change = {
        link: { before: linkBrief(current.link), after: linkBrief(settled) },
        ...(JSON.stringify(identityChange.before) !== JSON.stringify(identityChange.after)
          ? { identity: identityChange }
          : {}),
      };
      await this.deps.outbox.append(tx, xrayUpdated(updated, change, 'link_check', null));
      const invalid = linkInvalidIfSo(updated);
      if (invalid) await this.deps.outbox.append(tx, invalid);
      const mismatch = identityMismatchIfNew(current.identity, updated, 'link_check');
      if (mismatch) await this.deps.outbox.append(tx, mismatch);
      await appendAudit(tx, {
        context: systemContext(),
        action: 'xray.update',
        outcome: 'success',
        xrayId: updated.id,
        patientId: updated.patientId,
        details: {
          cause: 'link_check',
          before: { link: change.link.before, ...(change.identity ? { identity: change.identity.before } : {}) },
          after: { link: change.link.after, ...(change.identity ? { identity: change.identity.after } : {}) },
        },
      });
    });
  }
}
