import { Router } from 'express';
import type { Roster } from '@xray/shared';
import { auditOf } from '../../audit/audit.http.ts';
import { actorOf } from '../../auth/authenticate.middleware.ts';
import { authorize } from '../../auth/policy.ts';
import { DomainError } from '../../errors.ts';
import { PatientDirectoryUnavailable, type PatientDirectory } from '../../integrations/patient-directory.ts';

/**
 * GET /roster: the patients and open consultations from the Patient Service, for a paramedic's
 * device to keep (encrypted) and search offline. Every read is on the audit trail: it discloses
 * names and birth dates.
 */
export function rosterRoutes(deps: { patients: PatientDirectory | undefined }): Router {
  const router = Router();
  router.get('/roster', async (req, res) => {
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
  return router;
}
