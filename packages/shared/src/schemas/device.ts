import { z } from 'zod';
import { singleLineText } from './input-rules.ts';

/** POST /devices: an edge install enrolls the DPoP key it proves on every request. */
export const DeviceEnrollSchema = z.object({
  /** Shown to administrators: "Ambulance 12 tablet". */
  name: singleLineText().trim().min(1).max(120),
  appVersion: singleLineText().trim().max(64).optional(),
});
export type DeviceEnroll = z.infer<typeof DeviceEnrollSchema>;

/** POST /admin/devices/{id}/revoke: why (kept in the audit trail and shown to the device's user). */
export const DeviceRevokeSchema = z.object({
  reason: singleLineText().trim().min(1).max(500),
});
export type DeviceRevoke = z.infer<typeof DeviceRevokeSchema>;

/** POST /devices/self/wipe-report: a revoked device says it crypto-shredded its data. */
export const DeviceWipeReportSchema = z.object({
  /** Captures on the device that had not reached the server and were destroyed with it. */
  unsentCaptures: z.number().int().min(0).max(1_000_000),
  /** When the device wiped itself (its clock). */
  wipedAt: z.iso.datetime({ offset: true }),
});
export type DeviceWipeReport = z.infer<typeof DeviceWipeReportSchema>;

/** An enrolled device as the admin API shows it. */
export const DeviceSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  /** The `sub` of the user who enrolled it. */
  enrolledBy: z.string(),
  enrolledAt: z.iso.datetime({ offset: true }),
  lastSeenAt: z.iso.datetime({ offset: true }),
  appVersion: z.string().nullable(),
  /** RFC 7638 thumbprint of its DPoP public key (what its tokens' `cnf.jkt` names). */
  keyThumbprint: z.string(),
  publicKey: z.record(z.string(), z.unknown()),
  revoked: z.object({ at: z.iso.datetime({ offset: true }), by: z.string(), reason: z.string() }).nullable(),
  /** Set once the device reported that it wiped itself; null: not (yet) reported. */
  wipe: z
    .object({ reportedAt: z.iso.datetime({ offset: true }), unsentCaptures: z.number().int().nullable() })
    .nullable(),
});
export type Device = z.infer<typeof DeviceSchema>;

export const DeviceListSchema = z.object({ items: z.array(DeviceSchema) });
export type DeviceList = z.infer<typeof DeviceListSchema>;

/** The answer to a revocation: the device, and how many of its unfinished uploads were ended. */
export const DeviceRevokeResultSchema = z.object({ device: DeviceSchema, endedUploads: z.number().int() });
