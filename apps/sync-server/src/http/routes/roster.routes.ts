import type { Router } from 'express';
import { RosterSchema, type Roster } from '@xray/shared';
import { auditOf } from '../../audit/audit.http.ts';
import { actorOf } from '../../auth/authenticate.middleware.ts';
import { authorize } from '../../auth/policy.ts';
import { DomainError } from '../../errors.ts';
import { PatientDirectoryUnavailable, type PatientDirectory } from '../../integrations/patient-directory.ts';
import { jsonResponse, problemResponse } from '../openapi.parts.ts';
import { defineOperations, RouteTable } from '../route-table.ts';

export const rosterOperations = defineOperations({
  getRoster: {
    method: 'get',
    path: '/roster',
    tags: ['roster'],
    summary: 'Patients and open consultations, for the device to keep (encrypted) and search offline',
    description:
      "The Patient Service's lists, read through. Every read is audited (`roster.read`): it discloses names and birth dates.",
    access: 'token',
    action: 'roster.read',
    responses: {
      200: jsonResponse('The roster', RosterSchema.meta({ id: 'Roster' }), ['Cache-Control']),
      403: problemResponse(403, 'Only paramedics read the roster (`forbidden`)'),
      503: problemResponse(
        503,
        'No Patient Service is configured, it did not answer, or the database is unavailable (`unavailable`); `Retry-After` says when to retry',
      ),
    },
  },
});

/**
 * GET /roster: the patients and open consultations from the Patient Service, for a paramedic's
 * device to keep (encrypted) and search offline. Every read is on the audit trail: it discloses
 * names and birth dates.
 */
export function rosterRoutes(deps: { patients: PatientDirectory | undefined }): Router {
  const routes = new RouteTable(rosterOperations);
  routes.on('getRoster', async (req, res) => {
    const audit = auditOf(req).begin('roster.read');
    authorize(actorOf(req), 'roster.read');
    if (!deps.patients)
      throw new DomainError('unavailable', 'No Patient Service is configured: there is no roster to read.');
    let lists: Awaited<ReturnType<PatientDirectory['roster']>>;
    try {
      lists = await deps.patients.roster();
    } catch (err) {
      if (!(err instanceof PatientDirectoryUnavailable)) throw err;
      throw new DomainError('unavailable', 'The Patient Service did not answer: the roster could not be read.');
    }
    const roster: Roster = { ...lists, generatedAt: new Date().toISOString() };
    await audit.success({ patients: roster.patients.length, consultations: roster.consultations.length });
    res.set('Cache-Control', 'private, no-store').json(roster);
  });
  return routes.router();
}
