import type { Request, Router } from 'express';
import { z } from 'zod';
import {
  AuditEventListSchema,
  AuditEventSchema,
  AuditQuerySchema,
  FhirAuditBundleSchema,
  fieldErrors,
} from '@xray/shared';
import { auditOf } from '../../audit/audit.http.ts';
import { toFhirBundle } from '../../audit/audit.fhir.ts';
import { toAuditResource, type AuditService } from '../../audit/audit.service.ts';
import { actorOf } from '../../auth/authenticate.middleware.ts';
import { authorize } from '../../auth/policy.ts';
import { DomainError } from '../../errors.ts';
import { problemResponse, problems } from '../openapi.parts.ts';
import { defineOperations, RouteTable } from '../route-table.ts';

export interface AuditRoutesDeps {
  audit: AuditService;
  /** PUBLIC_URL: the base of links in FHIR bundles (else the request's own host). */
  publicUrl?: string;
  /** The OIDC issuer, when configured: the system of actors' identifiers in FHIR. */
  issuer?: string;
}

/** Only admins read the audit log (the policy's `audit.read`). */
function requireAuditReader(req: Request): void {
  authorize(actorOf(req), 'audit.read');
}

const AuditEvent = AuditEventSchema.meta({ id: 'AuditEvent' });

export const auditOperations = defineOperations({
  listAuditEvents: {
    method: 'get',
    path: '/audit',
    tags: ['audit'],
    summary: 'The audit trail, filtered, with cursor pagination',
    description:
      'The tamper-evident audit trail, newest first unless `order=asc`. `format=fhir` answers a FHIR R4 Bundle of AuditEvent (`application/fhir+json`) instead. Reading the trail is itself audited.',
    access: 'token',
    action: 'audit.read',
    request: { query: AuditQuerySchema },
    responses: {
      200: {
        description: 'A page of audit events',
        content: {
          'application/json': {
            schema: AuditEventListSchema.extend({ items: z.array(AuditEvent) }).meta({ id: 'AuditEventList' }),
          },
          'application/fhir+json': { schema: FhirAuditBundleSchema.meta({ id: 'FhirAuditEventBundle' }) },
        },
      },
      ...problems(400),
      403: problemResponse(403, 'Only administrators read the audit log (`forbidden`)'),
    },
  },
});

export function auditRoutes(deps: AuditRoutesDeps): Router {
  const routes = new RouteTable(auditOperations);

  routes.on('listAuditEvents', async (req, res) => {
    const audit = auditOf(req).begin('audit.list');
    requireAuditReader(req);
    const q = AuditQuerySchema.safeParse(req.query);
    if (!q.success)
      throw new DomainError('validation_failed', 'The query has invalid parameters.', fieldErrors(q.error));
    const page = await deps.audit.list(q.data);
    // Reading the trail is itself on the trail. The filters stay in details, not in the X-ray and
    // patient columns, so a patient's trail lists access to their X-rays, not audits of that access.
    await audit.success({ filters: q.data, count: page.items.length });

    if (q.data.format === 'fhir') {
      const self = new URL(req.originalUrl, deps.publicUrl ?? `${req.protocol}://${req.get('host') ?? 'localhost'}`);
      const next = page.nextCursor ? new URL(self) : null;
      next?.searchParams.set('cursor', page.nextCursor ?? '');
      const site = deps.publicUrl ?? self.origin;
      const bundle = toFhirBundle(
        page.items,
        { site, ...(deps.issuer ? { issuer: deps.issuer } : {}) },
        { self: self.toString(), next: next?.toString() ?? null },
      );
      res.type('application/fhir+json').json(bundle);
      return;
    }
    res.json({ items: page.items.map(toAuditResource), nextCursor: page.nextCursor });
  });

  return routes.router();
}
