import { z } from 'zod';

/** A patient as the Patient Service lists them (GET /patients?query=). */
export const PatientSummarySchema = z.object({
  id: z.string(),
  name: z.string().optional(),
  birthDate: z.string().optional(),
  sex: z.string().optional(),
});
export type PatientSummary = z.infer<typeof PatientSummarySchema>;

export const ConsultationSummarySchema = z.object({
  id: z.string(),
  patientId: z.string(),
  startedAt: z.string().optional(),
  reason: z.string().optional(),
  status: z.string().optional(),
});
export type ConsultationSummary = z.infer<typeof ConsultationSummarySchema>;

const listOf = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item) });

/**
 * The lists the capture form picks from, read straight from the Patient Service. Only while
 * online: offline the paramedic types the id, and the server checks it when the X-ray arrives.
 */
export interface PatientDirectory {
  search(query: string, signal?: AbortSignal): Promise<PatientSummary[]>;
  consultations(patientId: string, signal?: AbortSignal): Promise<ConsultationSummary[]>;
}

export function patientDirectory(
  baseUrl: string,
  doFetch: typeof fetch = (i, init) => fetch(i, init),
): PatientDirectory {
  const base = baseUrl.replace(/\/+$/, '');
  const get = async <T extends z.ZodType>(path: string, schema: T, signal?: AbortSignal): Promise<z.infer<T>> => {
    const res = await doFetch(`${base}${path}`, {
      headers: { Accept: 'application/json' },
      signal: signal ?? AbortSignal.timeout(8_000),
    });
    if (!res.ok) throw new Error(`The Patient Service answered ${res.status}.`);
    return schema.parse(await res.json());
  };
  return {
    async search(query, signal) {
      return (await get(`/patients?query=${encodeURIComponent(query.trim())}`, listOf(PatientSummarySchema), signal))
        .items;
    },
    async consultations(patientId, signal) {
      return (
        await get(`/patients/${encodeURIComponent(patientId)}/consultations`, listOf(ConsultationSummarySchema), signal)
      ).items;
    },
  };
}
