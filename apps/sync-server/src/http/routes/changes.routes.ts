import type { Router } from 'express';
import { ChangeFeedQuerySchema, ChangeFeedSchema, fieldErrors, type ChangeFeed } from '@xray/shared';
import { auditOf } from '../../audit/audit.http.ts';
import { actorOf } from '../../auth/authenticate.middleware.ts';
import { listScope } from '../../auth/policy.ts';
import { DomainError } from '../../errors.ts';
import { toResource } from '../../xrays/xray.repository.ts';
import type { XrayService } from '../../xrays/xray.service.ts';
import { jsonResponse, problemResponse } from '../openapi.parts.ts';
import { defineOperations, RouteTable } from '../route-table.ts';

export const changeOperations = defineOperations({
  listChanges: {
    method: 'get',
    path: '/changes',
    tags: ['xrays'],
    summary: 'The change feed: every change of an X-ray after a sequence number, in order',
    description: [
      'Each change (created, corrected, link settled, deleted) has a number the server assigns in the order the changes commit: ask with `after` = the last number you processed, and a change committed later never has a smaller one, so following `next` misses nothing and sees each change once.',
      'A deletion is a tombstone (`kind: deleted`, `xray: null`, no patient data). Each other item carries the X-ray as it is now (null if it was deleted since: its tombstone follows).',
      '`more: false` means caught up: poll again later with `after=next`. A paramedic sees the changes of what they captured. Every page is audited (`xray.changes`, with the ids it disclosed).',
    ].join('\n\n'),
    access: 'token',
    action: 'xray.list',
    request: { query: ChangeFeedQuerySchema },
    responses: {
      200: jsonResponse('A page of changes', ChangeFeedSchema.meta({ id: 'ChangeFeed' }), ['Cache-Control']),
      400: problemResponse(400, '`after` or `limit` is not valid (`validation_failed`; `errors[]` names it)'),
      403: problemResponse(403, 'The role may not list X-rays (`forbidden`)'),
    },
  },
});

/** GET /changes: the change feed, scoped and audited like GET /xrays. */
export function changeRoutes(deps: { xrays: XrayService }): Router {
  const routes = new RouteTable(changeOperations);
  routes.on('listChanges', async (req, res) => {
    const audit = auditOf(req).begin('xray.changes');
    const q = ChangeFeedQuerySchema.safeParse(req.query);
    if (!q.success)
      throw new DomainError('validation_failed', 'The query has invalid parameters.', fieldErrors(q.error));
    const scope = listScope(actorOf(req));
    const page = await deps.xrays.changes(q.data, scope);
    // One event per page; the ids and numbers say exactly what it disclosed.
    await audit.success({
      after: q.data.after,
      limit: q.data.limit,
      count: page.items.length,
      next: page.next,
      ids: [...new Set(page.items.map((c) => c.xrayId))],
      ...(scope.capturedBy !== undefined ? { scope: 'own' } : {}),
    });
    const body: ChangeFeed = {
      items: page.items.map((c) => ({
        seq: c.seq,
        kind: c.kind,
        xrayId: c.xrayId,
        at: c.at,
        xray: c.xray ? toResource(c.xray) : null,
      })),
      next: page.next,
      more: page.more,
    };
    res.set('Cache-Control', 'private, no-store').json(body);
  });
  return routes.router();
}
