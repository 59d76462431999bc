import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import {
  EdgeServerConfigSchema,
  ProblemSchema,
  RosterSchema,
  XrayListQuerySchema,
  XrayListSchema,
  XrayMetadataInputSchema,
  XraySchema,
} from '@xray/shared';
import { AuditEventListSchema, AuditEventSchema, AuditQuerySchema, FhirAuditBundleSchema } from '@xray/shared';
import { OutboxListSchema, OutboxQuerySchema, OutboxRetryResultSchema, XrayUpdateSchema } from '@xray/shared';
import {
  DeviceEnrollSchema,
  DeviceListSchema,
  DeviceRevokeResultSchema,
  DeviceRevokeSchema,
  DeviceSchema,
  DeviceWipeReportSchema,
} from '@xray/shared';

/**
 * The OpenAPI document, generated from the same zod schemas that validate requests.
 * A committed copy lives in apps/sync-server/openapi.json; a test fails when it is stale.
 */
export function buildOpenApiDocument() {
  const registry = new OpenAPIRegistry();
  // `.meta({ id })` names a component; zod-to-openapi ships CommonJS only, so its `.openapi()`
  // extension would patch a different zod instance than the ESM one our schemas come from.
  const Xray = XraySchema.meta({ id: 'Xray' });
  const XrayList = XrayListSchema.meta({ id: 'XrayList' });
  const Problem = ProblemSchema.meta({ id: 'Problem' });
  const Metadata = XrayMetadataInputSchema.meta({ id: 'XrayMetadataInput' });
  const bearer = registry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
  });
  const security = [{ [bearer.name]: [] }];
  const idParam = z.object({ id: z.uuid() });
  const problem = (description: string) => ({
    description,
    content: { 'application/problem+json': { schema: Problem } },
  });
  const errors = {
    400: problem('Invalid input; `errors[]` names each field'),
    401: problem('No or invalid bearer token'),
    403: problem('The role does not allow this'),
    404: problem('No such X-ray'),
    429: problem(
      'Too many failed authentications from this address; `Retry-After` says when to retry. A token that verifies is still served',
    ),
    503: problem('The database or object storage is unavailable; nothing was done. `Retry-After` says when to retry'),
  };

  registry.registerPath({
    method: 'post',
    path: '/xrays',
    summary: 'Upload an X-ray (streamed). A client-chosen `id` makes it idempotent.',
    security,
    request: {
      body: {
        required: true,
        content: {
          'multipart/form-data': {
            schema: z.object({
              metadata: Metadata,
              file: z.string().meta({ format: 'binary', description: 'DICOM Part 10, PNG or JPEG' }),
            }),
            encoding: { metadata: { contentType: 'application/json' } },
          },
        },
      },
    },
    responses: {
      201: { description: 'Stored', content: { 'application/json': { schema: Xray } } },
      200: {
        description: 'Already stored with the same bytes (idempotent repeat)',
        content: { 'application/json': { schema: Xray } },
      },
      ...errors,
      409: problem('This id is stored with different bytes'),
      413: problem('Larger than MAX_UPLOAD_BYTES'),
      415: problem('Not DICOM, PNG or JPEG, or a DICOM encoding (transfer syntax) not accepted'),
      422: problem(
        'Bytes do not match the declared sha256 (checksum_mismatch), or are not structurally what their type says: damaged, cut off, or another format riding along (content_invalid)',
      ),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/xrays',
    summary: 'List X-rays, newest capture first',
    security,
    request: { query: XrayListQuerySchema },
    responses: { 200: { description: 'A page', content: { 'application/json': { schema: XrayList } } }, ...errors },
  });
  registry.registerPath({
    method: 'get',
    path: '/xrays/{id}',
    summary: 'X-ray metadata',
    security,
    request: { params: idParam },
    responses: { 200: { description: 'The X-ray', content: { 'application/json': { schema: Xray } } }, ...errors },
  });
  registry.registerPath({
    method: 'get',
    path: '/xrays/{id}/download',
    summary: 'The original bytes; supports Range and ETag',
    security,
    request: { params: idParam },
    responses: {
      200: {
        description: 'The whole file',
        content: { 'application/octet-stream': { schema: z.string().meta({ format: 'binary' }) } },
      },
      206: {
        description: 'The requested range',
        content: { 'application/octet-stream': { schema: z.string().meta({ format: 'binary' }) } },
      },
      304: { description: 'Not modified (If-None-Match)' },
      ...errors,
      416: problem('Range not satisfiable'),
    },
  });
  registry.registerPath({
    method: 'patch',
    path: '/xrays/{id}',
    summary:
      'Correct patientId, consultationId, bodyPart, view or notes (the capturing paramedic, a doctor or an admin); re-verifies the link, audited before/after, emits `xray.updated`',
    security,
    request: {
      params: idParam,
      body: {
        required: true,
        content: {
          'application/json': { schema: XrayUpdateSchema.meta({ id: 'XrayUpdate' }) },
          'application/merge-patch+json': { schema: XrayUpdateSchema },
        },
      },
    },
    responses: {
      200: { description: 'The corrected X-ray', content: { 'application/json': { schema: Xray } } },
      ...errors,
    },
  });
  registry.registerPath({
    method: 'delete',
    path: '/xrays/{id}',
    summary: 'Delete an X-ray and its object (the audit trail stays)',
    security,
    request: { params: idParam },
    responses: { 204: { description: 'Deleted' }, ...errors },
  });
  const AuditEvent = AuditEventSchema.meta({ id: 'AuditEvent' });
  registry.registerPath({
    method: 'get',
    path: '/audit',
    summary:
      'Admin: the tamper-evident audit trail, filtered, with cursor pagination; `format=fhir` gives a FHIR R4 Bundle of AuditEvent',
    security,
    request: { query: AuditQuerySchema },
    responses: {
      200: {
        description: 'A page of audit events (newest first unless `order=asc`)',
        content: {
          'application/json': {
            schema: AuditEventListSchema.extend({ items: z.array(AuditEvent) }).meta({ id: 'AuditEventList' }),
          },
          'application/fhir+json': { schema: FhirAuditBundleSchema.meta({ id: 'FhirAuditEventBundle' }) },
        },
      },
      400: errors[400],
      401: errors[401],
      429: errors[429],
      403: problem('Only administrators may read the audit log'),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/roster',
    summary:
      "Paramedic: the Patient Service's patients and open consultations, for the device to keep (encrypted) and search offline. Audited (`roster.read`)",
    security,
    responses: {
      200: {
        description: 'The roster',
        content: { 'application/json': { schema: RosterSchema.meta({ id: 'Roster' }) } },
      },
      401: errors[401],
      403: problem('Only paramedics read the roster'),
      429: errors[429],
      503: problem('No Patient Service is configured, or it did not answer'),
    },
  });
  const OutboxList = OutboxListSchema.meta({ id: 'OutboxList' });
  registry.registerPath({
    method: 'get',
    path: '/admin/outbox',
    summary: 'Admin: events not yet delivered to every sink (`state=pending`) or given up on (`state=dead`)',
    security,
    request: { query: OutboxQuerySchema },
    responses: {
      200: {
        description: 'A page of outbox entries, oldest first',
        content: { 'application/json': { schema: OutboxList } },
      },
      400: errors[400],
      401: errors[401],
      429: errors[429],
      403: problem('Only administrators manage the outbox'),
    },
  });
  registry.registerPath({
    method: 'post',
    path: '/admin/outbox/{id}/retry',
    summary: 'Admin: deliver an event again: its dead deliveries start over, waiting ones are due now',
    security,
    request: { params: idParam },
    responses: {
      202: {
        description: 'Queued for delivery',
        content: { 'application/json': { schema: OutboxRetryResultSchema.meta({ id: 'OutboxRetryResult' }) } },
      },
      400: errors[400],
      401: errors[401],
      429: errors[429],
      403: problem('Only administrators manage the outbox'),
      404: problem('No such event'),
    },
  });
  // Devices: the DPoP scheme (RFC 9449) is `Authorization: DPoP <token>` plus a `DPoP` proof header.
  const dpop = registry.registerComponent('securitySchemes', 'dpop', {
    type: 'apiKey',
    in: 'header',
    name: 'DPoP',
    description:
      'A DPoP proof (RFC 9449) for this request, with the access token sent as `Authorization: DPoP <token>`. Refusals are 401 with `code` dpop_required, dpop_invalid, dpop_replayed, dpop_key_mismatch or device_revoked.',
  });
  const deviceSecurity = [{ [dpop.name]: [] }];
  const Device = DeviceSchema.meta({ id: 'Device' });
  const deviceErrors = {
    400: errors[400],
    401: problem(
      'No or invalid token, or a DPoP refusal: `dpop_required`, `dpop_invalid`, `dpop_replayed`, `dpop_key_mismatch`, `device_revoked`',
    ),
    429: errors[429],
  };
  registry.registerPath({
    method: 'post',
    path: '/devices',
    summary:
      'Enroll this edge install as a device: registers the DPoP key that signed the proof (idempotent for the same key)',
    security: deviceSecurity,
    request: {
      body: {
        required: true,
        content: { 'application/json': { schema: DeviceEnrollSchema.meta({ id: 'DeviceEnroll' }) } },
      },
    },
    responses: {
      201: { description: 'Enrolled', content: { 'application/json': { schema: Device } } },
      200: {
        description: 'This key is enrolled already: that device',
        content: { 'application/json': { schema: Device } },
      },
      ...deviceErrors,
      403: problem('The role does not enroll devices (paramedics and admins do)'),
    },
  });
  registry.registerPath({
    method: 'post',
    path: '/devices/self/wipe-report',
    summary: 'A revoked (or retired) device reports that it crypto-shredded its data; audited as `device.wipe`',
    security: deviceSecurity,
    request: {
      body: {
        required: true,
        content: { 'application/json': { schema: DeviceWipeReportSchema.meta({ id: 'DeviceWipeReport' }) } },
      },
    },
    responses: {
      204: { description: 'Recorded' },
      ...deviceErrors,
      403: errors[403],
      404: problem('The proof key is not an enrolled device'),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/admin/devices',
    summary: 'Admin: enrolled devices, whether revoked, and whether each reported its wipe',
    security,
    responses: {
      200: {
        description: 'Every device',
        content: { 'application/json': { schema: DeviceListSchema.meta({ id: 'DeviceList' }) } },
      },
      401: errors[401],
      429: errors[429],
      403: problem('Only administrators manage devices'),
    },
  });
  registry.registerPath({
    method: 'post',
    path: '/admin/devices/{id}/revoke',
    summary:
      'Admin: revoke a device (reason required). Its requests are refused with 401 `device_revoked` from then on, its unfinished uploads end; X-rays it delivered stay',
    security,
    request: {
      params: idParam,
      body: {
        required: true,
        content: { 'application/json': { schema: DeviceRevokeSchema.meta({ id: 'DeviceRevoke' }) } },
      },
    },
    responses: {
      200: {
        description: 'Revoked (or already revoked)',
        content: { 'application/json': { schema: DeviceRevokeResultSchema.meta({ id: 'DeviceRevokeResult' }) } },
      },
      400: errors[400],
      401: errors[401],
      429: errors[429],
      403: problem('Only administrators manage devices'),
      404: problem('No such device'),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/edge-config',
    summary: 'What the edge app needs before sign-in: issuer, audience, Patient Service, size limit (public)',
    responses: {
      200: {
        description: 'The deployment, as the edge app sees it',
        content: { 'application/json': { schema: EdgeServerConfigSchema.meta({ id: 'EdgeServerConfig' }) } },
      },
    },
  });
  for (const [path, summary] of [
    ['/healthz', 'Liveness'],
    ['/readyz', 'Readiness: database and object storage'],
  ] as const) {
    registry.registerPath({ method: 'get', path, summary, responses: { 200: { description: 'OK' } } });
  }

  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'X-ray Service sync server',
      version: '0.1.0',
      description: "Stores paramedics' X-rays and serves them to doctors. Errors are RFC 9457 problem+json.",
    },
  });
}
