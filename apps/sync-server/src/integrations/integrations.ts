import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Config } from '../config/config.ts';
import type { Pool } from '../db/pool.ts';
import { createOutboxWriter, type OutboxWriter } from '../events/outbox.repository.ts';
import { OutboxRelay } from '../events/outbox.relay.ts';
import type { Logger } from '../observability/logger.ts';
import { AmqpNotifier } from './amqp.notifier.ts';
import { createLinkVerifier, type LinkVerifier } from './link.verifier.ts';
import type { Notifier } from './notifier.ts';
import type { PatientDirectory } from './patient-directory.ts';
import { PatientServiceClient } from './patient-service.client.ts';
import { PendingLinkChecker } from './pending-link.checker.ts';
import { WebhookNotifier } from './webhook.notifier.ts';

export interface Integrations {
  links: LinkVerifier;
  /** The Patient Service, when configured (GET /roster reads its lists). */
  patients: PatientDirectory | undefined;
  outbox: OutboxWriter;
  relay: OutboxRelay;
  linkChecker: PendingLinkChecker;
  /** Starts the background workers (relay, pending-link checker) of this instance. */
  start(): void;
  stop(): Promise<void>;
}

/**
 * Everything outside the sync server that it talks to, built from the config. `listeningUrl`:
 * this instance's own address once it listens, the base of event links when PUBLIC_URL is unset.
 */
export function createIntegrations(
  config: Config,
  pool: Pool,
  log: Logger,
  listeningUrl: () => string | undefined,
): Integrations {
  const instanceId = `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
  const { patientService } = config.integrations;

  const directory = patientService.url
    ? new PatientServiceClient({
        url: patientService.url,
        timeoutMs: patientService.timeoutMs,
        retries: patientService.retries,
        cacheTtlMs: patientService.cacheTtlMs,
        log,
      })
    : undefined;
  if (!directory) log.warn('PATIENT_SERVICE_URL is not set: X-ray links are not checked (link.status unchecked)');
  const links = createLinkVerifier(directory, {
    inlineTimeoutMs: patientService.inlineTimeoutMs,
    log,
    patientIdIssuer: config.integrations.patientIdIssuer,
  });

  const notifiers = createNotifiers(config, log, instanceId);
  log.info(
    { sinks: notifiers.map((n) => n.name), instanceId },
    notifiers.length ? 'event delivery configured' : 'no event sinks configured: events are kept in the outbox only',
  );

  // (Production refuses to start with event sinks and no PUBLIC_URL: config.ts.)
  if (notifiers.length && !config.http.publicUrl)
    log.warn('PUBLIC_URL is not set: event links name the address this instance listens on');
  const outbox = createServerOutboxWriter(config, notifiers, listeningUrl);
  const relay = new OutboxRelay({ pool, notifiers, log, instanceId, options: config.outbox });
  const linkChecker = new PendingLinkChecker({
    pool,
    links,
    outbox,
    log,
    options: {
      intervalMs: patientService.recheckIntervalMs,
      maxDelayMs: patientService.recheckMaxMs,
      // A background check may take every retry at the full timeout; keep the claim past that.
      leaseMs: Math.max(60_000, 4 * (patientService.retries + 1) * patientService.timeoutMs),
    },
  });
  return {
    links,
    patients: directory,
    outbox,
    relay,
    linkChecker,
    start() {
      relay.start();
      linkChecker.start();
    },
    async stop() {
      await linkChecker.stop();
      await relay.stop(config.http.shutdownGraceMs);
    },
  };
}

/** The event sinks the config names (Doctor Service webhook, RabbitMQ): built, not started. */
export function createNotifiers(config: Config, log: Logger, instanceId: string): Notifier[] {
  const { doctorService, amqp } = config.integrations;
  const notifiers: Notifier[] = [];
  if (doctorService.url && doctorService.secret)
    notifiers.push(
      new WebhookNotifier({
        url: doctorService.url,
        secret: doctorService.secret,
        timeoutMs: doctorService.timeoutMs,
        instanceId,
      }),
    );
  if (amqp.url)
    notifiers.push(
      new AmqpNotifier({
        url: amqp.url,
        exchange: amqp.exchange,
        confirmTimeoutMs: amqp.confirmTimeoutMs,
        instanceId,
        log,
      }),
    );
  return notifiers;
}

/**
 * The outbox writer as the server builds it: a delivery row for each of `notifiers`, event links
 * based on PUBLIC_URL, else `listeningUrl()` (this instance's address once it listens).
 */
export function createServerOutboxWriter(
  config: Config,
  notifiers: readonly Notifier[],
  listeningUrl: () => string | undefined,
): OutboxWriter {
  return createOutboxWriter(
    notifiers.map((n) => n.name),
    {
      publicUrl: () => {
        const url = config.http.publicUrl ?? listeningUrl();
        // Events are written by requests and by background work started once the server listens.
        if (!url) throw new Error('an event was written before the server listened (no base for its links)');
        return url;
      },
    },
  );
}
