import { isRole, type Role } from '@xray/shared';
import { DomainError, noSuch } from '../errors.ts';
import type { Actor } from './actor.ts';

/**
 * Who may do what. One table, read by the REST routes and the upload door alike.
 *
 * - `any`: the role may act on every X-ray.
 * - `own`: the role may act only on X-rays it captured (capturedBy.sub === actor.sub).
 * - absent: the role may not act at all.
 *
 * An actor holding several roles gets the widest grant among them.
 */
export const ACTIONS = [
  'xray.create',
  'xray.read',
  'xray.list',
  'xray.download',
  'xray.update',
  'xray.delete',
  'audit.read',
  /** GET /admin/outbox and retrying dead events. */
  'outbox.manage',
  /** POST /uploads: begin a resumable upload (it becomes an X-ray when complete). */
  'upload.create',
  /** HEAD/PATCH on an upload: resume it, or learn what became of it. */
  'upload.continue',
  /** DELETE of an unfinished upload (a finished one is an X-ray and is never touched this way). */
  'upload.terminate',
  /** GET /roster: the patient and consultation lists a paramedic keeps offline. */
  'roster.read',
  /** POST /devices: an edge install registers its DPoP key; POST /devices/self/wipe-report. */
  'device.enroll',
  /** GET /admin/devices, POST /admin/devices/{id}/revoke. */
  'device.manage',
  /** DICOMweb QIDO-RS: searching studies, series and instances (scoped like the list). */
  'dicomweb.search',
  /** DICOMweb WADO-RS: retrieving instances and their metadata (per X-ray, like a download). */
  'dicomweb.retrieve',
] as const;
export type Action = (typeof ACTIONS)[number];

type Reach = 'any' | 'own';

const POLICY: Record<Action, Partial<Record<Role, Reach>>> = {
  'xray.create': { paramedic: 'any', admin: 'any' },
  'xray.read': { paramedic: 'own', doctor: 'any', admin: 'any' },
  'xray.list': { paramedic: 'own', doctor: 'any', admin: 'any' },
  'xray.download': { paramedic: 'own', doctor: 'any', admin: 'any' },
  // Correcting a capture (wrong patient picked in the ambulance): its paramedic, a doctor, or an admin.
  'xray.update': { paramedic: 'own', doctor: 'any', admin: 'any' },
  'xray.delete': { admin: 'any' },
  'audit.read': { admin: 'any' },
  'outbox.manage': { admin: 'any' },
  'upload.create': { paramedic: 'any', admin: 'any' },
  // Nobody writes into, or reads the metadata of, someone else's upload; admins may cancel one.
  'upload.continue': { paramedic: 'own', admin: 'own' },
  'upload.terminate': { paramedic: 'own', admin: 'any' },
  // Names and birth dates of every patient on the list: only those who capture at the bedside.
  'roster.read': { paramedic: 'any' },
  // Devices that capture enroll; a doctor's system is no device.
  'device.enroll': { paramedic: 'any', admin: 'any' },
  'device.manage': { admin: 'any' },
  // DICOMweb reads as the REST API does: a paramedic only what they captured.
  'dicomweb.search': { paramedic: 'own', doctor: 'any', admin: 'any' },
  'dicomweb.retrieve': { paramedic: 'own', doctor: 'any', admin: 'any' },
};

/** What ownership is judged on: an X-ray, or an upload mapped to who started it. */
export interface Owned {
  capturedBy: { sub: string };
}

/** Which roles the table lets act, and how far: the OpenAPI document lists them per operation. */
export const grantsOf = (action: Action): Readonly<Partial<Record<Role, Reach>>> => POLICY[action];

function reachOf(actor: Actor, action: Action): Reach | undefined {
  let reach: Reach | undefined;
  for (const role of actor.roles) {
    if (!isRole(role)) continue;
    const r = POLICY[action][role];
    if (r === 'any') return 'any';
    reach ??= r;
  }
  return reach;
}

export type Decision =
  { allowed: true; reach: Reach } | { allowed: false; error: DomainError; reason: 'role' | 'not_owner' };

/**
 * The decision without side effects (for callers that record denials, such as the audit log).
 * Without `target`: may this actor do `action` at all (the role gate, before loading anything).
 * With `target`: may they do it to this one.
 */
export function decide(actor: Actor, action: Action, target?: Owned): Decision {
  const reach = reachOf(actor, action);
  if (!reach) {
    const roles = actor.roles.length ? actor.roles.join(', ') : 'none';
    return {
      allowed: false,
      reason: 'role',
      error: new DomainError('forbidden', `Your roles (${roles}) do not allow ${action}.`),
    };
  }
  if (reach === 'own' && target && target.capturedBy.sub !== actor.sub) {
    // Not 403: the answer must be the same as for an id that does not exist, so nobody learns
    // which X-rays (or uploads) exist by probing ids they may not see.
    return {
      allowed: false,
      reason: 'not_owner',
      error: noSuch(action.startsWith('upload.') ? 'upload' : 'X-ray', { denial: 'not_owner' }),
    };
  }
  return { allowed: true, reach };
}

/**
 * Throws the problem to answer when the actor may not do this: 403 `forbidden` for a role that
 * may never do it, 404 `not_found` for another user's X-ray or upload. Call it once before
 * loading (role gate) and again with the loaded target for per-item actions.
 */
export function authorize(actor: Actor, action: Action, target?: Owned): void {
  const d = decide(actor, action, target);
  if (!d.allowed) throw d.error;
}

/** The list filter an actor is confined to: paramedics see only their own captures. */
export function listScope(
  actor: Actor,
  action: 'xray.list' | 'dicomweb.search' | 'dicomweb.retrieve' = 'xray.list',
): { capturedBy?: string } {
  authorize(actor, action);
  return reachOf(actor, action) === 'own' ? { capturedBy: actor.sub } : {};
}
