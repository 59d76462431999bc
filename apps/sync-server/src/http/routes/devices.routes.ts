import { randomUUID } from 'node:crypto';
import express, { type Request, type Router } from 'express';
import {
  DeviceEnrollSchema,
  DeviceListSchema,
  DeviceRevokeResultSchema,
  DeviceRevokeSchema,
  DeviceSchema,
  DeviceWipeReportSchema,
  fieldErrors,
  XrayIdSchema,
  type Device,
} from '@xray/shared';
import { z } from 'zod';
import { auditOf } from '../../audit/audit.http.ts';
import { actorOf } from '../../auth/authenticate.middleware.ts';
import { authorize } from '../../auth/policy.ts';
import type { Pool } from '../../db/pool.ts';
import { deviceRepository, type DeviceRow } from '../../devices/device.repository.ts';
import { DomainError } from '../../errors.ts';
import { emptyResponse, jsonResponse, problemResponse, problems } from '../openapi.parts.ts';
import { defineOperations, RouteTable } from '../route-table.ts';
import { publicHref } from '../public-url.ts';

export interface DeviceRoutesDeps {
  pool: Pool;
  /** Ends a revoked device's unfinished uploads (the upload door); how many were ended. */
  endDeviceUploads(deviceId: string): Promise<number>;
  /** PUBLIC_URL: the base of the Location a 201 names. */
  publicUrl?: string | undefined;
}

export const toDevice = (r: DeviceRow): Device => {
  const unsent: unknown = r.wipe_report?.unsentCaptures;
  return {
    id: r.id,
    name: r.name,
    enrolledBy: r.enrolled_by,
    enrolledAt: r.enrolled_at.toISOString(),
    lastSeenAt: r.last_seen_at.toISOString(),
    appVersion: r.app_version,
    keyThumbprint: r.jkt,
    publicKey: { ...r.public_jwk },
    revoked: r.revoked_at
      ? { at: r.revoked_at.toISOString(), by: r.revoked_by ?? '', reason: r.revoke_reason ?? '' }
      : null,
    wipe: r.wiped_at
      ? { reportedAt: r.wiped_at.toISOString(), unsentCaptures: typeof unsent === 'number' ? unsent : null }
      : null,
  };
};

/** The request's DPoP key: a device is its key, so enrolling and reporting need one. */
function dpopKeyOf(req: Request): NonNullable<Request['dpopKey']> {
  if (!req.dpopKey)
    throw new DomainError(
      'dpop_required',
      'A device is its key: send a DPoP-bound token as "Authorization: DPoP <token>" with a DPoP proof (RFC 9449).',
    );
  return req.dpopKey;
}

function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const parsed = schema.safeParse(body ?? {});
  if (!parsed.success)
    throw new DomainError('validation_failed', 'The body has invalid fields.', fieldErrors(parsed.error));
  return parsed.data;
}

const Device = DeviceSchema.meta({ id: 'Device' });
const jsonBodyOf = (schema: z.ZodType) => ({ required: true, content: { 'application/json': { schema } } });
const onlyAdmins = problemResponse(403, 'Only administrators manage devices (`forbidden`)');

export const deviceOperations = defineOperations({
  enrollDevice: {
    method: 'post',
    path: '/devices',
    tags: ['devices'],
    summary: 'Enroll this edge install as a device',
    description:
      'Registers the DPoP key that signed the proof (RFC 9449). Idempotent for the same key: 200 with the device it already is.',
    access: 'device',
    action: 'device.enroll',
    request: { body: jsonBodyOf(DeviceEnrollSchema.meta({ id: 'DeviceEnroll' })) },
    responses: {
      201: jsonResponse('Enrolled', Device, ['Location']),
      200: jsonResponse('This key is enrolled already: that device', Device),
      ...problems(400, 413),
      403: problemResponse(403, 'The role does not enroll devices: paramedics and admins do (`forbidden`)'),
    },
  },
  reportDeviceWipe: {
    method: 'post',
    path: '/devices/self/wipe-report',
    tags: ['devices'],
    summary: 'A revoked (or retired) device reports that it crypto-shredded its data',
    description: "Audited as `device.wipe`. The one request a revoked device's token is still served for.",
    access: 'device',
    action: 'device.enroll',
    request: { body: jsonBodyOf(DeviceWipeReportSchema.meta({ id: 'DeviceWipeReport' })) },
    responses: {
      204: emptyResponse('Recorded'),
      ...problems(400, 403, 413),
      404: problemResponse(404, 'The proof key is not an enrolled device (`not_found`)'),
    },
  },
  listDevices: {
    method: 'get',
    path: '/admin/devices',
    tags: ['devices'],
    summary: 'Enrolled devices, whether revoked, and whether each reported its wipe',
    access: 'token',
    action: 'device.manage',
    responses: {
      200: jsonResponse('Every device', DeviceListSchema.meta({ id: 'DeviceList' })),
      403: onlyAdmins,
    },
  },
  revokeDevice: {
    method: 'post',
    path: '/admin/devices/{id}/revoke',
    tags: ['devices'],
    summary: 'Revoke a device (reason required)',
    description:
      'Its requests are refused with 401 `device_revoked` from then on and its unfinished uploads end; the X-rays it delivered stay.',
    access: 'token',
    action: 'device.manage',
    request: {
      params: z.object({ id: z.uuid() }),
      body: jsonBodyOf(DeviceRevokeSchema.meta({ id: 'DeviceRevoke' })),
    },
    responses: {
      200: jsonResponse('Revoked (or already revoked)', DeviceRevokeResultSchema.meta({ id: 'DeviceRevokeResult' })),
      ...problems(400, 413),
      403: onlyAdmins,
      404: problemResponse(404, 'No such device (`not_found`)'),
    },
  },
});

/**
 * Edge devices: enrollment (the DPoP key an install proves on every request), the admin listing
 * and revocation, and the wipe report a revoked device sends after crypto-shredding its data.
 */
export function deviceRoutes(deps: DeviceRoutesDeps): Router {
  const routes = new RouteTable(deviceOperations);
  const jsonBody = express.json({ limit: '16kb' });

  routes.on('enrollDevice', jsonBody, async (req, res) => {
    const audit = auditOf(req).begin('device.enroll');
    const actor = actorOf(req);
    authorize(actor, 'device.enroll');
    const key = dpopKeyOf(req);
    const body = parseBody(DeviceEnrollSchema, req.body);
    const { row, created } = await deviceRepository.enroll(deps.pool, {
      id: randomUUID(),
      name: body.name,
      enrolledBy: actor.sub,
      appVersion: body.appVersion ?? null,
      jwk: key.jwk,
      jkt: key.jkt,
    });
    // The same key again (a retried enrollment): the device it already is, on the trail as well.
    await audit.success({
      deviceId: row.id,
      name: row.name,
      keyThumbprint: row.jkt,
      appVersion: row.app_version,
      ...(created ? {} : { alreadyEnrolled: true }),
    });
    if (!created) {
      res.status(200).json(toDevice(row));
      return;
    }
    res
      .status(201)
      .location(publicHref(deps.publicUrl, `/admin/devices/${row.id}`))
      .json(toDevice(row));
  });

  routes.on('reportDeviceWipe', jsonBody, async (req, res) => {
    const audit = auditOf(req).begin('device.wipe');
    const actor = actorOf(req);
    authorize(actor, 'device.enroll');
    const key = dpopKeyOf(req);
    const body = parseBody(DeviceWipeReportSchema, req.body);
    const device = await deviceRepository.findByJkt(deps.pool, key.jkt);
    if (!device) throw new DomainError('not_found', 'This key is not an enrolled device.');
    await deviceRepository.recordWipe(deps.pool, device.id, body);
    await audit.success({
      deviceId: device.id,
      name: device.name,
      revoked: device.revoked_at !== null,
      unsentCaptures: body.unsentCaptures,
      wipedAt: body.wipedAt,
    });
    res.status(204).end();
  });

  routes.on('listDevices', async (req, res) => {
    const audit = auditOf(req).begin('device.list');
    authorize(actorOf(req), 'device.manage');
    const rows = await deviceRepository.list(deps.pool);
    await audit.success({ count: rows.length });
    res.json({ items: rows.map(toDevice) });
  });

  routes.on('revokeDevice', jsonBody, async (req, res) => {
    const audit = auditOf(req).begin('device.revoke');
    const actor = actorOf(req);
    authorize(actor, 'device.manage');
    const id = XrayIdSchema.safeParse(req.params.id);
    if (!id.success)
      throw new DomainError('bad_request', 'The path does not name a device id (a UUID).', [
        { field: 'id', message: 'must be a UUID' },
      ]);
    const body = parseBody(DeviceRevokeSchema, req.body);
    const device = await deviceRepository.find(deps.pool, id.data);
    if (!device) throw new DomainError('not_found', `There is no device ${id.data}.`);
    const revoked = await deviceRepository.revoke(deps.pool, device.id, actor.sub, body.reason);
    // Its requests are refused from now on (every instance reads the row); what it had begun ends.
    const endedUploads = await deps.endDeviceUploads(device.id);
    await audit.success({
      deviceId: device.id,
      name: device.name,
      enrolledBy: device.enrolled_by,
      reason: body.reason,
      alreadyRevoked: !revoked,
      endedUploads,
    });
    // Revoked before: the row as read is its current state.
    res.json({ device: toDevice(revoked ?? device), endedUploads });
  });

  return routes.router();
}
