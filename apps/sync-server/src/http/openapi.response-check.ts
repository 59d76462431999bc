import { appendFileSync, readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

/**
 * The test suites' witness that the server answers what its OpenAPI document says: every response
 * is checked against the operation it answers (status, Content-Type, required headers, JSON body
 * against the schema) and each difference is appended to a report file, which the suite's global
 * teardown turns into a failure. Each operation and status answered is recorded too (once per
 * process), so the teardown can list operations the suite never exercised.
 *
 * Installed only when OPENAPI_RESPONSE_CHECK names the report file (the test harnesses set it);
 * server.ts imports this module only then, so production never loads it. Bodies of binary streams
 * are not buffered: only JSON bodies are (up to MAX_BODY_BYTES).
 */

/** One line of the report file (JSON Lines). */
export type ResponseCheckRecord =
  | { kind: 'seen'; operation: string; status: number }
  | {
      kind: 'violation';
      /** `GET /xrays/{id}`, or the method and path when no operation matches. */
      operation: string;
      request: string;
      status: number;
      problems: string[];
    };

const MAX_BODY_BYTES = 8 * 1024 * 1024;
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

interface Operation {
  /** `GET /xrays/{id}` */
  key: string;
  method: string;
  template: string;
  pattern: RegExp;
  /** JSON pointer of the operation in the document (for ajv to compile its schemas). */
  pointer: string;
  responses: Json;
}

/** `~` and `/` escaped for a JSON pointer segment (RFC 6901). */
const segment = (s: string): string => s.replaceAll('~', '~0').replaceAll('/', '~1');

/** A response's headers as sent (writeHead's own headers included), names lower-cased. */
function sentHeaders(res: ServerResponse): Map<string, string> {
  const out = new Map<string, string>();
  const raw: unknown = Reflect.get(res, '_header');
  if (typeof raw === 'string') {
    for (const line of raw.split('\r\n').slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      out.set(name, out.has(name) ? `${out.get(name)}, ${value}` : value);
    }
    return out;
  }
  for (const [name, value] of Object.entries(res.getHeaders()))
    if (value !== undefined) out.set(name, Array.isArray(value) ? value.join(', ') : String(value));
  return out;
}

const mediaTypeOf = (contentType: string | undefined): string | undefined =>
  contentType?.split(';')[0]?.trim().toLowerCase() || undefined;

const isJsonMedia = (media: string | undefined): boolean =>
  media !== undefined && (media === 'application/json' || media.endsWith('+json'));

/** The documented media type a sent one falls under: exact, then `type/*`, then `*\/*`. */
function documentedMedia(content: Json, media: string): string | undefined {
  const keys = Object.keys(content);
  return (
    keys.find((k) => mediaTypeOf(k) === media) ??
    keys.find((k) => k.toLowerCase() === `${media.split('/')[0]}/*`) ??
    keys.find((k) => k === '*/*')
  );
}

export interface ResponseChecker {
  /** The Express middleware; install it before every route. */
  handler: RequestHandler;
  /** What is wrong with an event payload against the document's `webhooks[type]` request body; [] when nothing. */
  webhookProblems(type: string, payload: unknown): string[];
  /** Compiles every response body and header schema; returns the pointers that fail (the checker's tests). */
  compileAll(): string[];
  /** Checks one finished exchange (exported for the checker's own tests). */
  check(method: string, url: string, status: number, headers: Map<string, string>, body: Buffer | undefined): string[];
}

/** Builds the checker over an OpenAPI 3.1 document; `report` receives each record. */
export function createResponseChecker(doc: Json, report: (r: ResponseCheckRecord) => void): ResponseChecker {
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
  addFormats.default(ajv);
  // The whole document under one id, so `#/components/schemas/X` refs resolve from any fragment.
  ajv.addSchema(doc, 'openapi', undefined, false);
  // Compiled on first use (a test server answers a few operations; compiling all would slow every start).
  const validators = new Map<string, ValidateFunction>();
  const validatorAt = (pointer: string): ValidateFunction => {
    let v = validators.get(pointer);
    if (!v) {
      // A schema that does not compile is a failure of the check, never a silent pass.
      v = ajv.getSchema(`openapi#${pointer}`);
      if (!v) throw new Error(`no schema at #${pointer}`);
      validators.set(pointer, v);
    }
    return v;
  };

  /** A local `$ref` (`#/components/responses/X`) followed to what it names. */
  const deref = (v: unknown): unknown => {
    for (let i = 0; i < 10 && isObject(v) && typeof v.$ref === 'string' && v.$ref.startsWith('#/'); i++) {
      const ref = v.$ref;
      v = ref
        .slice(2)
        .split('/')
        .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'))
        .reduce<unknown>((node, key) => (isObject(node) ? node[key] : undefined), doc);
    }
    return v;
  };
  /** The pointer a (possibly `$ref`) node resolves to, for ajv. */
  const pointerOf = (v: unknown, at: string): string =>
    isObject(v) && typeof v.$ref === 'string' && v.$ref.startsWith('#/') ? pointerOf(deref(v), v.$ref.slice(1)) : at;

  const operations: Operation[] = [];
  const paths = isObject(doc.paths) ? doc.paths : {};
  for (const [template, item] of Object.entries(paths)) {
    if (!isObject(item)) continue;
    const pattern = new RegExp(
      `^${template
        .split(/\{[^}]+\}/)
        .map((part) => part.replace(/[.*+?^$()|[\]\\]/g, '\\$&'))
        .join('[^/]+')}/?$`,
      'i',
    );
    for (const method of METHODS) {
      const op = item[method];
      if (!isObject(op)) continue;
      operations.push({
        key: `${method.toUpperCase()} ${template}`,
        method: method.toUpperCase(),
        template,
        pattern,
        pointer: `/paths/${segment(template)}/${method}`,
        responses: isObject(op.responses) ? op.responses : {},
      });
    }
  }
  // A literal path wins over a templated one (`/devices/self/wipe-report` over `/devices/{id}/…`).
  const params = (t: string) => (t.match(/\{/g) ?? []).length;
  operations.sort((a, b) => params(a.template) - params(b.template));
  const problemPointer = '/components/schemas/Problem';

  const schemaProblems = (pointer: string, value: unknown, what: string): string[] => {
    const validate = validatorAt(pointer);
    if (validate(value)) return [];
    return (validate.errors ?? [])
      .slice(0, 8)
      .map((e) => `${what}${e.instancePath || ''} ${e.message ?? 'is invalid'}`);
  };

  const parseJson = (body: Buffer | undefined): { ok: true; value: unknown } | { ok: false } => {
    try {
      return { ok: true, value: JSON.parse(body?.toString('utf8') ?? '') };
    } catch {
      return { ok: false };
    }
  };

  /** A problem+json answer outside any documented operation (404, 405, 401 on an unknown path). */
  const checkUndocumented = (headers: Map<string, string>, body: Buffer | undefined, what: string): string[] => {
    const media = mediaTypeOf(headers.get('content-type'));
    // The edge web app's files (its HTML, scripts, manifest+json) are not API answers.
    if (media !== 'application/json' && media !== 'application/problem+json') return [];
    if (media !== 'application/problem+json') return [`${what}: a JSON answer (${media}) the document does not show`];
    if (!body?.length) return []; // HEAD: the headers only
    const parsed = parseJson(body);
    if (!parsed.ok) return ['problem body is not JSON'];
    return schemaProblems(problemPointer, parsed.value, 'problem');
  };

  const seen = new Set<string>();

  function check(
    method: string,
    url: string,
    status: number,
    headers: Map<string, string>,
    body: Buffer | undefined,
  ): string[] {
    const path = url.split('?')[0] ?? url;
    const candidates = operations.filter((o) => o.pattern.test(path));
    if (!candidates.length) return checkUndocumented(headers, body, 'undocumented path');
    // HEAD is answered as GET (Express), unless the document gives HEAD its own operation.
    const op =
      candidates.find((o) => o.method === method) ??
      (method === 'HEAD' ? candidates.find((o) => o.method === 'GET') : undefined);
    if (!op) {
      if (method === 'OPTIONS') return []; // CORS preflights
      const problems = checkUndocumented(headers, body, `undocumented method ${method}`);
      return status < 400 ? [`${method} is not documented for ${candidates[0]?.template}`, ...problems] : problems;
    }
    const seenKey = `${op.key} ${status}`;
    if (!seen.has(seenKey)) {
      seen.add(seenKey);
      report({ kind: 'seen', operation: op.key, status });
    }

    const responseKey = [String(status), `${String(status)[0]}XX`, 'default'].find((k) => k in op.responses);
    if (!responseKey) return [`status ${status} is not documented for ${op.key}`];
    const responsePointer = pointerOf(op.responses[responseKey], `${op.pointer}/responses/${segment(responseKey)}`);
    const response = deref(op.responses[responseKey]);
    if (!isObject(response)) return [];
    const problems: string[] = [];

    // Headers: each one documented as required is sent, and each documented one sent has a valid value.
    const documentedHeaders = isObject(response.headers) ? response.headers : {};
    for (const [name, h] of Object.entries(documentedHeaders)) {
      const header = deref(h);
      if (!isObject(header)) continue;
      const value = headers.get(name.toLowerCase());
      if (value === undefined) {
        if (header.required === true) problems.push(`required header ${name} missing`);
        continue;
      }
      if (!isObject(header.schema)) continue;
      const headerPointer = `${pointerOf(h, `${responsePointer}/headers/${segment(name)}`)}/schema`;
      const schema = deref(header.schema);
      const typed = isObject(schema) && (schema.type === 'integer' || schema.type === 'number') ? Number(value) : value;
      problems.push(...schemaProblems(headerPointer, typed, `header ${name}`));
    }

    // Content: the media type is one the document lists; a JSON body matches its schema.
    const content = isObject(response.content) ? response.content : undefined;
    const sentType = headers.get('content-type');
    const media = mediaTypeOf(sentType);
    const hasBody = method !== 'HEAD' && status !== 304 && body !== undefined && body.length > 0;
    if (!content) {
      if (hasBody || (media && status !== 304 && method !== 'HEAD'))
        problems.push(`a body (${media ?? 'no Content-Type'}) where the document shows none`);
      return problems;
    }
    if (!media) {
      if (status !== 304) problems.push(`no Content-Type; documented: ${Object.keys(content).join(', ')}`);
      return problems;
    }
    const documented = documentedMedia(content, media);
    if (!documented) {
      problems.push(`Content-Type ${media} not documented (documented: ${Object.keys(content).join(', ')})`);
      return problems;
    }
    if (!hasBody || !isJsonMedia(media)) return problems;
    const mediaEntry = deref(content[documented]);
    if (!isObject(mediaEntry) || mediaEntry.schema === undefined) return problems;
    const parsed = parseJson(body);
    if (!parsed.ok) return [...problems, `body is not JSON (${media})`];
    problems.push(...schemaProblems(`${responsePointer}/content/${segment(documented)}/schema`, parsed.value, 'body'));
    return problems;
  }

  const handler: RequestHandler = (req, res, next) => {
    // A CORS preflight is the browser asking, not a call of the API's OPTIONS operations.
    if (req.method === 'OPTIONS' && req.get('access-control-request-method')) return next();
    const method = req.method;
    const url = req.originalUrl;
    const chunks: Buffer[] = [];
    let size = 0;
    let buffering: boolean | undefined;
    // Decided at the first byte, when the headers are known: only JSON bodies are kept.
    const take = (chunk: unknown, encoding: unknown): void => {
      if (buffering === undefined) buffering = isJsonMedia(mediaTypeOf(sentHeaders(res).get('content-type')));
      if (!buffering || chunk === undefined || chunk === null || typeof chunk === 'function') return;
      const buf =
        typeof chunk === 'string'
          ? Buffer.from(chunk, typeof encoding === 'string' && Buffer.isEncoding(encoding) ? encoding : 'utf8')
          : chunk instanceof Uint8Array
            ? Buffer.from(chunk)
            : undefined;
      if (!buf) return;
      size += buf.length;
      if (size > MAX_BODY_BYTES) {
        buffering = false;
        chunks.length = 0;
        return;
      }
      chunks.push(buf);
    };
    const write = res.write.bind(res);
    const end = res.end.bind(res);
    Object.defineProperty(res, 'write', {
      configurable: true,
      writable: true,
      value: (...args: Parameters<typeof write>) => {
        take(args[0], args[1]);
        return write(...args);
      },
    });
    Object.defineProperty(res, 'end', {
      configurable: true,
      writable: true,
      value: (...args: Parameters<typeof end>) => {
        take(args[0], args[1]);
        return end(...args);
      },
    });
    res.once('finish', () => {
      // After the answer is on its way: the check never delays or changes it.
      setImmediate(() => {
        const body = buffering ? Buffer.concat(chunks) : undefined;
        const status = res.statusCode;
        let problems: string[];
        try {
          problems = check(method, url, status, sentHeaders(res), body);
        } catch (err) {
          problems = [`the response check failed: ${err instanceof Error ? err.message : String(err)}`];
        }
        if (!problems.length) return;
        const path = url.split('?')[0] ?? url;
        const op = operations.find((o) => o.method === method && o.pattern.test(path));
        report({
          kind: 'violation',
          operation: op?.key ?? `${method} ${path}`,
          request: `${method} ${url}`,
          status,
          problems,
        });
      });
    });
    next();
  };

  function compileAll(): string[] {
    const failed: string[] = [];
    const compile = (pointer: string) => {
      try {
        validatorAt(pointer);
      } catch (err) {
        failed.push(`${pointer}: ${err instanceof Error ? err.message : String(err)}`);
      }
    };
    compile(problemPointer);
    for (const op of operations) {
      for (const [status, r] of Object.entries(op.responses)) {
        const responsePointer = pointerOf(r, `${op.pointer}/responses/${segment(status)}`);
        const response = deref(r);
        if (!isObject(response)) continue;
        for (const [name, h] of Object.entries(isObject(response.headers) ? response.headers : {})) {
          const header = deref(h);
          if (isObject(header) && isObject(header.schema))
            compile(`${pointerOf(h, `${responsePointer}/headers/${segment(name)}`)}/schema`);
        }
        for (const [media, m] of Object.entries(isObject(response.content) ? response.content : {}))
          if (isObject(m) && m.schema !== undefined) compile(`${responsePointer}/content/${segment(media)}/schema`);
      }
    }
    return failed;
  }

  function webhookProblems(type: string, payload: unknown): string[] {
    const hooks = isObject(doc.webhooks) ? doc.webhooks : {};
    if (!isObject(hooks[type])) return [`no webhook ${type} in the document`];
    return schemaProblems(
      `/webhooks/${segment(type)}/post/requestBody/content/application~1json/schema`,
      payload,
      `${type} payload`,
    );
  }

  return { handler, check, compileAll, webhookProblems };
}

/** The committed OpenAPI document (apps/sync-server/openapi.json): what clients are generated from. */
export const OPENAPI_DOCUMENT = new URL('../../openapi.json', import.meta.url);

let committedChecker: ResponseChecker | undefined;

/**
 * What is wrong with an event as published (webhook body, RabbitMQ message) against the committed
 * document's `webhooks[type]` schema; [] when it is what the document says. For the event tests.
 */
export function eventPayloadProblems(type: string, payload: unknown): string[] {
  if (!committedChecker) {
    const doc: unknown = JSON.parse(readFileSync(OPENAPI_DOCUMENT, 'utf8'));
    if (!isObject(doc)) throw new Error(`${OPENAPI_DOCUMENT.pathname} is not an OpenAPI document`);
    committedChecker = createResponseChecker(doc, () => undefined);
  }
  return committedChecker.webhookProblems(type, payload);
}

/** The checker over the committed document, appending each record to `file` as one JSON line. */
export function responseCheckToFile(file: string, documentUrl: URL = OPENAPI_DOCUMENT): RequestHandler {
  const doc: unknown = JSON.parse(readFileSync(documentUrl, 'utf8'));
  if (!isObject(doc)) throw new Error(`${documentUrl.pathname} is not an OpenAPI document`);
  return createResponseChecker(doc, (record) => {
    try {
      appendFileSync(file, `${JSON.stringify(record)}\n`);
    } catch (err) {
      // The suite that asked is gone (its report removed): say so, never take the server down.
      console.error(`OpenAPI response check: cannot write ${file}:`, err, record);
    }
  }).handler;
}
