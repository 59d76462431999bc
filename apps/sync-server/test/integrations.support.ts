import { execFile } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, Socket, type Server } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { connect, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { EVENT_TYPES, XRAY_EVENT_SCHEMAS, XrayEventSchema, type XrayEvent } from '@xray/shared';
import { expect, inject } from 'vitest';
import type { DemoUserName } from '../src/dev/demo-users.ts';
import { startDevDoctorService, type DevDoctorService } from '../src/dev/doctor-service.ts';
import { startDevIssuer, type DevIssuer } from '../src/dev/oidc-issuer.ts';
import { startDevPatientService, type DevPatientService } from '../src/dev/patient-service.ts';

/** Polls `probe` until it returns something other than undefined/false, or fails with `what`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 20_000,
  everyMs = 50,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await sleep(everyMs);
  }
}

/**
 * A payload as a consumer received it (webhook body, AMQP message), checked against the published
 * schema of its type: valid, and nothing in it that the schema does not declare (parsing drops
 * undeclared fields, so the parsed event must equal the raw JSON).
 */
export function expectPublishedEvent(body: string): XrayEvent {
  const raw: unknown = JSON.parse(body);
  const type = typeof raw === 'object' && raw !== null ? Reflect.get(raw, 'type') : undefined;
  const known = EVENT_TYPES.find((t) => t === type);
  if (!known) throw new Error(`not an event type the server publishes: ${String(type)}`);
  expect(XRAY_EVENT_SCHEMAS[known].parse(raw), `${known} as published`).toEqual(raw);
  // And as the OpenAPI document publishes it (`webhooks`), the JSON Schema a consumer generates from.
  const validate = webhookValidator(known);
  expect(validate(raw) ? [] : validate.errors, `${known} against openapi.json webhooks`).toEqual([]);
  return XrayEventSchema.parse(raw);
}

let openapiAjv: Ajv2020 | undefined;
/** The request body schema of the `type` webhook in openapi.json, compiled once. */
function webhookValidator(type: string): ValidateFunction {
  if (!openapiAjv) {
    openapiAjv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
    addFormats.default(openapiAjv);
    const doc: unknown = JSON.parse(readFileSync(new URL('../openapi.json', import.meta.url), 'utf8'));
    if (typeof doc !== 'object' || doc === null) throw new Error('openapi.json is not a document');
    openapiAjv.addSchema(doc, 'openapi', undefined, false);
  }
  const validate = openapiAjv.getSchema(`openapi#/webhooks/${type}/post/requestBody/content/application~1json/schema`);
  if (!validate) throw new Error(`openapi.json has no webhook for ${type}`);
  return validate;
}

/** The webhook signature, computed here from the documented scheme (not with the server's code). */
export function expectedSignature(secret: string, timestamp: string, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export const testAmqpUrl = (): string => inject('amqpUrl');

export interface ReceivedMessage {
  routingKey: string;
  messageId: string | undefined;
  persistent: boolean;
  contentType: string | undefined;
  event: XrayEvent;
  /** The message body exactly as received. */
  body: string;
}

/** A consumer bound to the exchange with '#': what a downstream system would see. */
export interface ExchangeConsumer {
  messages: ReceivedMessage[];
  close(): Promise<void>;
}

export async function consumeExchange(exchange: string, url = testAmqpUrl()): Promise<ExchangeConsumer> {
  const conn: ChannelModel = await connect(url);
  const ch = await conn.createChannel();
  await ch.assertExchange(exchange, 'topic', { durable: true });
  const { queue } = await ch.assertQueue('', { exclusive: true, autoDelete: true });
  await ch.bindQueue(queue, exchange, '#');
  const messages: ReceivedMessage[] = [];
  await ch.consume(queue, (msg: ConsumeMessage | null) => {
    if (!msg) return;
    messages.push({
      routingKey: msg.fields.routingKey,
      messageId: typeof msg.properties.messageId === 'string' ? msg.properties.messageId : undefined,
      persistent: msg.properties.deliveryMode === 2,
      contentType: typeof msg.properties.contentType === 'string' ? msg.properties.contentType : undefined,
      event: XrayEventSchema.parse(JSON.parse(msg.content.toString('utf8'))),
      body: msg.content.toString('utf8'),
    });
    ch.ack(msg);
  });
  return {
    messages,
    async close() {
      await ch.deleteExchange(exchange).catch(() => undefined);
      await conn.close().catch(() => undefined);
    },
  };
}

export const uniqueExchange = (): string => `xray.events.test-${randomUUID().slice(0, 8)}`;

/**
 * A TCP proxy in front of RabbitMQ: `cut()` drops every connection and refuses new ones (the
 * broker unreachable, as during a restart), `restore()` lets them through again. The shared
 * broker itself is never stopped, so other test runs on this machine are not disturbed.
 */
export class TcpProxy {
  private server: Server | undefined;
  private readonly pairs = new Set<[Socket, Socket]>();
  private down = false;
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  static forAmqp(url = testAmqpUrl()): TcpProxy {
    const u = new URL(url);
    return new TcpProxy(u.hostname, Number(u.port || 5672));
  }

  /** `url` with host and port replaced by the proxy's. */
  via(url = testAmqpUrl()): string {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }

  async start(): Promise<void> {
    this.server = createServer((client) => {
      if (this.down) {
        client.destroy();
        return;
      }
      const upstream = new Socket();
      const pair: [Socket, Socket] = [client, upstream];
      this.pairs.add(pair);
      const end = () => {
        client.destroy();
        upstream.destroy();
        this.pairs.delete(pair);
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
      upstream.connect(this.targetPort, this.targetHost, () => {
        client.pipe(upstream);
        upstream.pipe(client);
      });
    });
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    const addr = this.server.address();
    if (addr === null || typeof addr === 'string') throw new Error('proxy not on TCP');
    this.port = addr.port;
  }

  /** Local ports of the proxy's connections to the broker (the broker's `peer_port`). */
  upstreamPorts(): number[] {
    return [...this.pairs].map(([, up]) => up.localPort).filter((p): p is number => typeof p === 'number');
  }

  connections(): number {
    return this.pairs.size;
  }

  cut(): void {
    this.down = true;
    for (const [client, upstream] of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
    this.pairs.clear();
  }

  restore(): void {
    this.down = false;
  }

  async stop(): Promise<void> {
    this.cut();
    this.server?.close();
  }
}

/**
 * Has the broker itself close the connections coming from `peerPorts` (what an operator's
 * `rabbitmqctl close_connection` or a broker shutting down sends: connection.close). Returns how
 * many it closed.
 */
export async function brokerClosesConnections(peerPorts: number[]): Promise<number> {
  const run = promisify(execFile);
  // Tab-separated `<pid>\t<peer_port>` lines (the JSON formatter prints pids close_connection refuses).
  const { stdout } = await run('rabbitmqctl', ['list_connections', 'pid', 'peer_port', '-q', '--no-table-headers']);
  let closed = 0;
  for (const line of stdout.split('\n')) {
    const [pid, port] = line.trim().split(/\s+/);
    if (!pid || !port || !peerPorts.includes(Number(port))) continue;
    await run('rabbitmqctl', ['close_connection', pid, 'test: connection cut on purpose']);
    closed++;
  }
  return closed;
}

/** KEY=value lines of an env file (deploy/gen-keys.sh's). */
export async function envFileVars(file: string): Promise<Record<string, string>> {
  return Object.fromEntries(
    (await readFile(file, 'utf8'))
      .split('\n')
      .map((l) => /^([A-Z0-9_]+)=(.*)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1] ?? '', m[2] ?? '']),
  );
}

export interface DevIntegrations {
  issuer: DevIssuer;
  patients: DevPatientService;
  doctor: DevDoctorService;
  /** A fresh exchange (AMQP_EXCHANGE) and a consumer already bound to it. */
  exchange: string;
  consumer: ExchangeConsumer;
  tokens: Record<Exclude<DemoUserName, 'paramedic2'>, string>;
}

/**
 * What a production-shaped server talks to, as this machine stands it in: an oidc-provider issuer
 * in Keycloak's shape (roles in realm_access.roles), the dev Patient and Doctor Services (the
 * latter checking `webhookSecret`), a consumer on a fresh exchange, and the demo users' tokens.
 */
export async function startDevIntegrations(opts: {
  dataDir: string;
  audience: string;
  webhookSecret: string;
}): Promise<DevIntegrations> {
  const issuer = await startDevIssuer({
    port: 0,
    dataDir: opts.dataDir,
    audience: opts.audience,
    rolesClaim: ['realm_access', 'roles'],
  });
  const patients = await startDevPatientService({ port: 0 });
  const doctor = await startDevDoctorService({ port: 0, secret: opts.webhookSecret });
  const exchange = uniqueExchange();
  const consumer = await consumeExchange(exchange);
  const tokens = {
    paramedic: await issuer.mintToken('paramedic'),
    doctor: await issuer.mintToken('doctor'),
    admin: await issuer.mintToken('admin'),
  };
  return { issuer, patients, doctor, exchange, consumer, tokens };
}
