import { z } from 'zod';

/**
 * GET /edge-config: what the edge app needs to know about the deployment before sign-in (no
 * secrets). The server builds it from its configuration; the app caches it for offline starts.
 */
export const EdgeServerConfigSchema = z.object({
  /** The OIDC issuer whose tokens the server accepts (null: none configured), and their audience. */
  oidc: z.object({ issuer: z.string().nullable(), audience: z.string() }),
  /** Where the app lists patients (GET /patients?query=); null when none is configured. */
  patientServiceUrl: z.string().nullable(),
  /** The largest X-ray the server accepts, in bytes: the app refuses bigger files at capture. */
  maxUploadBytes: z.number().int().positive(),
  /**
   * Offline grace period (ms): this long after the server last answered, the app asks for a
   * sign-in before it shows patient details again; capturing never waits. Absent from older
   * servers: the app's default (12 h).
   */
  offlineGraceMs: z.number().int().positive().optional(),
  /**
   * Upload stall timeout (ms): an upload request with no progress for this long is aborted and
   * resumed from the server's offset. Absent from older servers: the app's default (20 s).
   */
  uploadStallMs: z.number().int().positive().optional(),
  /**
   * The assigning authority that issues this hospital's patient ids (PATIENT_ID_ISSUER), as a
   * DICOM file's IssuerOfPatientID (0010,0021) names it: the app holds a capture whose file names
   * another authority, as the server flags it. Absent when the server has none configured (or is
   * older): the app compares a file's PatientID alone.
   */
  patientIdIssuer: z.string().min(1).optional(),
});
export type EdgeServerConfig = z.infer<typeof EdgeServerConfigSchema>;
