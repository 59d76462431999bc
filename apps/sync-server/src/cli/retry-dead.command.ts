import { parseArgs } from 'node:util';
import { EVENT_TYPES } from '@xray/shared';
import { appendAudit, systemContext } from '../audit/audit.service.ts';
import { loadConfig } from '../config/config.ts';
import { createPool, inTransaction } from '../db/pool.ts';
import { outboxRepository } from '../events/outbox.repository.ts';
import { EXIT, type Command } from './command.ts';

const actor = { sub: 'xray-admin retry-dead', roles: ['admin'] };
/** Event ids named in the audit event; the count is always complete. */
const AUDITED_IDS = 1000;
/** The outbox's sinks (WebhookNotifier, AmqpNotifier). */
const SINKS = ['webhook', 'amqp'] as const;

const usage = `xray-admin retry-dead [--sink webhook|amqp] [--type <event type>] [--dry-run]

Puts every dead event delivery (optionally only one sink's, or one event type's) back to pending
with a fresh failure count, due now: the relays deliver them again, in order, once the cause is
fixed (the Doctor Service or RabbitMQ refused them OUTBOX_MAX_ATTEMPTS times). One transaction,
audited as one outbox.retry event (details: how many, the filters, the event ids). --dry-run
only counts them. Reads DATABASE_URL from the server's configuration.`;

/** `xray-admin retry-dead`: the bulk retry of dead outbox deliveries (GET /admin/outbox?state=dead lists them). */
export const retryDeadCommand: Command = {
  name: 'retry-dead',
  summary: 'Retry every dead event delivery (optionally of one sink or event type); audited',
  usage,

  async run(args, io) {
    const { values } = parseArgs({
      args,
      options: {
        sink: { type: 'string' },
        type: { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    });
    if (values.help) {
      io.out(usage);
      return EXIT.ok;
    }
    const type = values.type;
    if (type !== undefined && !EVENT_TYPES.some((t) => t === type)) {
      io.err(`--type must be one of ${EVENT_TYPES.join(', ')}`);
      return EXIT.failed;
    }
    // A mistyped sink would match nothing and report "0 … put back" as if all were well.
    if (values.sink !== undefined && !SINKS.some((s) => s === values.sink)) {
      io.err(`--sink must be one of ${SINKS.join(', ')}`);
      return EXIT.failed;
    }
    const config = loadConfig(io.env);
    if (!config.db.url) {
      io.err('DATABASE_URL is not set: point it at the sync server database.');
      return EXIT.failed;
    }
    const filter = { ...(values.sink ? { sink: values.sink } : {}), ...(type ? { type } : {}) };
    const pool = createPool(config.db.url, 1);
    try {
      if (values['dry-run']) {
        const n = await outboxRepository.countDead(pool, filter);
        io.out(`${n} dead deliveries would be retried.`);
        return EXIT.ok;
      }
      const retried = await inTransaction(pool, async (tx) => {
        const rows = await outboxRepository.retryAllDead(tx, filter);
        if (rows.length > 0)
          await appendAudit(tx, {
            context: systemContext(actor),
            action: 'outbox.retry',
            outcome: 'success',
            details: {
              bulk: true,
              retried: rows.length,
              ...filter,
              eventIds: [...new Set(rows.map((r) => r.eventId))].slice(0, AUDITED_IDS),
            },
          });
        return rows;
      });
      io.out(`OK: ${retried.length} dead deliveries put back to pending (audited as outbox.retry).`);
      return EXIT.ok;
    } finally {
      await pool.end();
    }
  },
};
