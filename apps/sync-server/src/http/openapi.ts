import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { EVENT_SCHEMA_VERSION, EVENT_TYPES, XRAY_EVENT_EXAMPLES, XRAY_EVENT_SCHEMAS } from '@xray/shared';
import { WEBHOOK_HEADERS } from '../integrations/webhook.signature.ts';
import { API_OPERATIONS } from './api.operations.ts';
import {
  API_HEADERS,
  API_TAGS,
  headerComponentBody,
  headerComponentOf,
  sometimes,
  type ApiHeader,
} from './openapi.parts.ts';
import { registerOperations } from './route-table.ts';

const EVENTS_TAG = {
  name: 'events',
  description: [
    'Events the server sends the Doctor Service: an HMAC-signed webhook POST per event and, when AMQP_URL is set, a message on the RabbitMQ topic exchange (routing key: the event type, the same JSON body).',
    'Delivered at least once, in order per X-ray: de-duplicate on `id`; `sequence` orders the events of one X-ray.',
    `\`schemaVersion\` is ${EVENT_SCHEMA_VERSION}; fields may be added within a version, so ignore the ones you do not know.`,
  ].join(' '),
};

/** `xray.link_invalid` → `XrayLinkInvalidEvent`. */
const componentNameOf = (type: string) =>
  type
    .split(/[._]/)
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('') + 'Event';

/** One webhook per event type: what the receiver is sent, and what its answers mean to the sender. */
function registerWebhooks(registry: OpenAPIRegistry): void {
  const headers = z.object({
    [WEBHOOK_HEADERS.eventId]: z.uuid().meta({ description: 'The event id (as in the body): de-duplicate on it' }),
    [WEBHOOK_HEADERS.eventType]: z.enum(EVENT_TYPES).meta({ description: 'The event type (as in the body)' }),
    [WEBHOOK_HEADERS.timestamp]: z
      .string()
      .regex(/^[0-9]+$/)
      .meta({ description: 'Unix seconds when signed; refuse values far from your clock (5 minutes)' }),
    [WEBHOOK_HEADERS.signature]: z.string().meta({
      description:
        '`v1=<hex HMAC-SHA256(WEBHOOK_SECRET, "<timestamp>.<raw body>")>`; several comma-separated values during a secret rotation: any one matching is enough',
    }),
    [WEBHOOK_HEADERS.attempt]: z
      .string()
      .regex(/^[0-9]+$/)
      .meta({ description: 'Which delivery attempt of this event this is (1 the first)' }),
  });
  for (const type of EVENT_TYPES) {
    registry.registerWebhook({
      method: 'post',
      path: type,
      operationId: `on${componentNameOf(type)}`,
      tags: [EVENTS_TAG.name],
      summary: `The \`${type}\` event`,
      // The receiver authenticates the sender by the HMAC signature header, not by an OpenAPI scheme.
      security: [],
      request: {
        headers,
        body: {
          required: true,
          content: {
            'application/json': {
              schema: XRAY_EVENT_SCHEMAS[type].meta({ id: componentNameOf(type) }),
              example: XRAY_EVENT_EXAMPLES[type],
            },
          },
        },
      },
      responses: {
        '2XX': { description: 'Delivered' },
        '4XX': {
          description:
            'Refused: retried later with backoff until the event is parked as dead. 429 is an outage instead: retried (after `Retry-After`) for as long as it lasts, never counted towards dead',
        },
        '5XX': {
          description:
            '502 and 503 are an outage: retried for as long as it lasts, never counted towards dead. Any other status (and no answer within the timeout) counts as a refusal',
        },
      },
    });
  }
}

/**
 * The OpenAPI document, generated from the route declarations (route-table.ts) the server mounts,
 * and from the same zod schemas that validate requests. A committed copy lives in
 * apps/sync-server/openapi.json (relative `servers`); the server answers its own at
 * /openapi.json with `servers` from PUBLIC_URL. Tests fail when the copy is stale or does not lint.
 */
export function buildOpenApiDocument(opts: { publicUrl?: string | undefined } = {}) {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description:
      'An access token from the configured OIDC issuer: `Authorization: Bearer <token>`. Roles come from a configurable claim.',
  });
  // Devices: the DPoP scheme (RFC 9449) is `Authorization: DPoP <token>` plus a `DPoP` proof header.
  registry.registerComponent('securitySchemes', 'dpop', {
    type: 'apiKey',
    in: 'header',
    name: 'DPoP',
    description:
      'A DPoP proof (RFC 9449) for this request, with the access token sent as `Authorization: DPoP <token>`. Refusals are 401 with `code` dpop_required, dpop_invalid, dpop_replayed, dpop_key_mismatch or device_revoked.',
  });
  // Every answer's X-Request-Id, the problem headers, and what the declarations name.
  const used = new Set<string>(['X-Request-Id', 'WWW-Authenticate', 'Retry-After', 'Content-Range']);
  for (const op of API_OPERATIONS)
    for (const r of Object.values(op.responses)) for (const h of r.headers ?? []) used.add(headerComponentOf(h));
  for (const name of Object.keys(API_HEADERS) as ApiHeader[])
    for (const use of [name, sometimes(name)])
      if (used.has(headerComponentOf(use)))
        registry.registerComponent('headers', headerComponentOf(use), headerComponentBody(use));

  registerOperations(registry, API_OPERATIONS);
  registerWebhooks(registry);

  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'X-ray Service sync server',
      version: '0.1.0',
      description: [
        "Stores paramedics' X-rays and serves them to doctors.",
        'Errors are RFC 9457 `application/problem+json`; `code` is one of the documented `ProblemCode`s.',
        'Every answer carries `X-Request-Id`. A method a path does not take is answered 405 with `Allow`.',
      ].join(' '),
    },
    servers: [
      opts.publicUrl
        ? { url: opts.publicUrl.replace(/\/+$/, ''), description: 'This deployment (PUBLIC_URL)' }
        : { url: '/', description: 'The server this document is served by' },
    ],
    tags: [...Object.entries(API_TAGS).map(([name, description]) => ({ name, description })), EVENTS_TAG],
  });
}
