import { z } from 'zod';

/**
 * GET /roster: the patients and open consultations a paramedic may need on a shift, as the
 * Patient Service lists them. The edge app keeps it encrypted on the device, so a patient can be
 * found by id or name without a network.
 */
export const RosterPatientSchema = z.object({
  id: z.string(),
  name: z.string().optional(),
  birthDate: z.string().optional(),
  sex: z.string().optional(),
});
export type RosterPatient = z.infer<typeof RosterPatientSchema>;

export const RosterConsultationSchema = z.object({
  id: z.string(),
  patientId: z.string(),
  startedAt: z.string().optional(),
  reason: z.string().optional(),
  status: z.string().optional(),
});
export type RosterConsultation = z.infer<typeof RosterConsultationSchema>;

export const RosterSchema = z.object({
  patients: z.array(RosterPatientSchema),
  /** Open consultations only. */
  consultations: z.array(RosterConsultationSchema),
  /** When the sync server read it from the Patient Service. */
  generatedAt: z.iso.datetime({ offset: true }),
});
export type Roster = z.infer<typeof RosterSchema>;
