import { z } from 'zod';

/**
 * The roles the X-ray Service knows, as they appear in the access token's roles claim.
 * - paramedic: creates X-rays and reads only what they captured
 * - doctor: reads, lists and downloads every X-ray
 * - admin: everything a doctor may, plus delete and the audit log
 */
export const ROLES = ['paramedic', 'doctor', 'admin'] as const;
export const RoleSchema = z.enum(ROLES);
export type Role = z.infer<typeof RoleSchema>;

export const isRole = (value: unknown): value is Role => RoleSchema.safeParse(value).success;
