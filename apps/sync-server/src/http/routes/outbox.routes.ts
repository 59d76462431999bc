import type { Request, Router } from 'express';
import { z } from 'zod';
import { fieldErrors, OutboxListSchema, OutboxQuerySchema, OutboxRetryResultSchema, XrayIdSchema } from '@xray/shared';
import { auditOf } from '../../audit/audit.http.ts';
import { actorOf } from '../../auth/authenticate.middleware.ts';
import { authorize } from '../../auth/policy.ts';
import type { Pool } from '../../db/pool.ts';
import { DomainError } from '../../errors.ts';
import { outboxRepository } from '../../events/outbox.repository.ts';
import { jsonResponse, problemResponse, problems } from '../openapi.parts.ts';
import { defineOperations, RouteTable } from '../route-table.ts';

const onlyAdmins = problemResponse(403, 'Only administrators manage the outbox (`forbidden`)');

export const outboxOperations = defineOperations({
  listOutbox: {
    method: 'get',
    path: '/admin/outbox',
    tags: ['outbox'],
    summary: 'Events not yet delivered to every sink, or given up on',
    description:
      'Events with a delivery still pending (`state=pending`) or dead (`state=dead`); both when `state` is absent. Oldest first, with cursor pagination. Listing is audited.',
    access: 'token',
    action: 'outbox.manage',
    request: { query: OutboxQuerySchema },
    responses: {
      200: jsonResponse('A page of outbox entries, oldest first', OutboxListSchema.meta({ id: 'OutboxList' })),
      ...problems(400),
      403: onlyAdmins,
    },
  },
  retryOutboxEvent: {
    method: 'post',
    path: '/admin/outbox/{id}/retry',
    tags: ['outbox'],
    summary: 'Deliver an event again',
    description: 'Its dead deliveries start over; waiting ones are due now.',
    access: 'token',
    action: 'outbox.manage',
    request: { params: z.object({ id: z.uuid() }) },
    responses: {
      202: jsonResponse('Queued for delivery', OutboxRetryResultSchema.meta({ id: 'OutboxRetryResult' })),
      400: problemResponse(400, 'The path does not name an event id (`bad_request`)'),
      403: onlyAdmins,
      404: problemResponse(404, 'No such event (`not_found`)'),
    },
  },
});

function requireOutboxAdmin(req: Request): void {
  authorize(actorOf(req), 'outbox.manage');
}

/** Admin: the events not yet delivered (pending) or given up on (dead), and retrying them. */
export function outboxRoutes(deps: { pool: Pool }): Router {
  const routes = new RouteTable(outboxOperations);

  routes.on('listOutbox', async (req, res) => {
    const audit = auditOf(req).begin('outbox.list');
    requireOutboxAdmin(req);
    const q = OutboxQuerySchema.safeParse(req.query);
    if (!q.success)
      throw new DomainError('validation_failed', 'The query has invalid parameters.', fieldErrors(q.error));
    const page = await outboxRepository.list(deps.pool, {
      ...(q.data.state ? { state: q.data.state } : {}),
      ...(q.data.cursor ? { afterSeq: q.data.cursor } : {}),
      limit: q.data.limit,
    });
    // Events name patients: listing them is on the trail like any other read.
    await audit.success({ filters: q.data, count: page.items.length, ids: page.items.map((e) => e.id) });
    res.json(page);
  });

  routes.on('retryOutboxEvent', async (req, res) => {
    const audit = auditOf(req).begin('outbox.retry');
    const id = XrayIdSchema.safeParse(req.params.id);
    // The raw value is not echoed: it may hold anything, control characters included.
    if (!id.success)
      throw new DomainError('bad_request', 'The path does not name an event id (a UUID).', [
        { field: 'id', message: 'must be a UUID' },
      ]);
    // The event's X-ray is looked up before the role gate, so a refused retry is on that X-ray's
    // trail too (the answer is the same 403 whether the event exists or not).
    const event = await outboxRepository.find(deps.pool, id.data);
    audit.about({ xrayId: event?.xrayId ?? null });
    requireOutboxAdmin(req);
    if (!event) throw new DomainError('not_found', `There is no event ${id.data} in the outbox.`);
    const retried = await outboxRepository.retry(deps.pool, id.data);
    const entry = (await outboxRepository.find(deps.pool, id.data)) ?? event;
    await audit.success({ eventId: entry.id, type: entry.type, retried });
    res.status(202).json({ retried, entry });
  });

  return routes.router();
}
