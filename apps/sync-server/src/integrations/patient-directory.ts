import { z } from 'zod';

/**
 * The Patient Service as the sync server needs it: does this patient exist, which patient does
 * this consultation belong to. `null` means the service answered "no such one" (404); anything
 * else that is not an answer (down, slow, 5xx, a body we cannot read) throws
 * PatientDirectoryUnavailable, which the caller turns into a pending link.
 */
export interface PatientDirectory {
  getPatient(id: string, opts?: LookupOptions): Promise<PatientSummary | null>;
  getConsultation(id: string, opts?: LookupOptions): Promise<ConsultationSummary | null>;
  /** The patients and open consultations a paramedic may pick from on a shift (GET /roster). */
  roster(opts?: LookupOptions): Promise<{ patients: PatientSummary[]; consultations: ConsultationSummary[] }>;
}

export interface LookupOptions {
  /** Per request; default: the directory's own. */
  timeoutMs?: number;
  /** Retries after the first try; default: the directory's own. 0 for a caller that must not wait. */
  retries?: number;
}

/** What GET /patients/{id} answers (fields beyond these are ignored). */
export const PatientSummarySchema = z.object({
  id: z.string().min(1),
  name: z.string().optional(),
  birthDate: z.string().optional(),
  sex: z.string().optional(),
});
export type PatientSummary = z.infer<typeof PatientSummarySchema>;

/** What GET /consultations/{id} answers: the consultation names its patient. */
export const ConsultationSummarySchema = z.object({
  id: z.string().min(1),
  patientId: z.string().min(1),
  startedAt: z.string().optional(),
  reason: z.string().optional(),
  status: z.string().optional(),
});
export type ConsultationSummary = z.infer<typeof ConsultationSummarySchema>;

export class PatientDirectoryUnavailable extends Error {
  override name = 'PatientDirectoryUnavailable';
}
