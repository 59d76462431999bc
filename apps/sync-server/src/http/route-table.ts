import type { OpenAPIRegistry, ResponseConfig, RouteConfig } from '@asteasolutions/zod-to-openapi';
import { Router, type Express, type RequestHandler } from 'express';
import { grantsOf, type Action } from '../auth/policy.ts';
import { methodNotAllowed } from './method-not-allowed.ts';
import { headerComponentOf, headerNameOf, problemResponse, type ApiTag, type HeaderUse } from './openapi.parts.ts';

/**
 * One declaration per operation of the API: how it is reached (method, path), what it is called
 * (operationId, tags), what it takes and what it answers. The router mounts exactly these
 * declarations and the OpenAPI document is generated from the very same ones, so the document
 * shows what the server routes (test: src/http/openapi.test.ts walks the Express stack).
 */

export const HTTP_METHODS = ['get', 'head', 'post', 'put', 'patch', 'delete', 'options'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

/**
 * Who may call: `token` a bearer JWT (or a DPoP-bound one, as enrolled devices send), `device`
 * only a DPoP-bound token (the device is its key), `public` anyone. Authentication itself is
 * mounted by path prefix in app.ts; the routes test proves each declaration against it.
 */
export type Access = 'token' | 'device' | 'public';

/** A response as declared: headers by name (components/headers), the rest as zod-to-openapi takes it. */
export type ApiResponse = Omit<ResponseConfig, 'headers'> & { headers?: readonly HeaderUse[] };

export interface OperationSpec<P extends string = string> {
  method: HttpMethod;
  /** OpenAPI style: `/xrays/{id}`. */
  path: P;
  tags: readonly [ApiTag, ...ApiTag[]];
  summary: string;
  description?: string;
  access: Access;
  /** The policy table's action this operation is decided by: the document lists who may call it. */
  action?: Action;
  request?: RouteConfig['request'];
  /** Statuses this operation answers; 401/429/503 (protected) and 500 are added to every one that can. */
  responses: Record<number, ApiResponse>;
}

export interface Operation<P extends string = string> extends OperationSpec<P> {
  operationId: string;
}

/** Declares operations, each named (its operationId) by its key. */
export function defineOperations<const O extends Record<string, OperationSpec>>(
  specs: O,
): { [K in keyof O]: O[K] & { operationId: K & string } } {
  const out: Record<string, Operation> = {};
  for (const [operationId, spec] of Object.entries(specs)) out[operationId] = { ...spec, operationId };
  return out as { [K in keyof O]: O[K] & { operationId: K & string } };
}

/** `/xrays/{id}/download` → `/xrays/:id/download` (Express). */
export const expressPathOf = (path: string): string => path.replace(/\{([A-Za-z0-9_]+)\}/g, ':$1');

/** `/xrays/:id/download` → `/xrays/{id}/download` (OpenAPI). */
export const openApiPathOf = (path: string): string => path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

/** The path parameters of an OpenAPI path, as Express hands them to the handler. */
type ParamsOf<P extends string> = P extends `${string}{${infer Name}}${infer Rest}`
  ? { [K in Name]: string } & ParamsOf<Rest>
  : Record<never, string>;

type HandlerOf<Op> = Op extends { path: infer P extends string } ? RequestHandler<ParamsOf<P>> : never;

/**
 * Mounts declared operations on an Express router: `on(operationId, ...handlers)` for each, then
 * `router()`, which refuses to build while a declared operation has no handler.
 */
export class RouteTable<O extends Record<string, Operation>> {
  private readonly handlers = new Map<keyof O, RequestHandler[]>();

  constructor(private readonly operations: O) {}

  on<K extends keyof O>(operationId: K, ...handlers: HandlerOf<O[K]>[]): this {
    if (this.handlers.has(operationId)) throw new Error(`${String(operationId)} has a handler already`);
    // The params type only narrows what Express hands over: the path declares exactly these.
    this.handlers.set(operationId, handlers as unknown as RequestHandler[]);
    return this;
  }

  router(): Router {
    const router = Router();
    // OPTIONS at a path that declares none: the 405 (with Allow) of every undeclared method, not
    // Express's automatic 200 text/plain answer, which no declaration shows. First in the router,
    // before Express matches a route. (CORS preflights are answered before any route.)
    const undeclared = methodNotAllowed(allowedMethodsFrom(Object.values(this.operations)));
    router.use((req, res, next) => (req.method === 'OPTIONS' ? undeclared(req, res, next) : next()));
    for (const [operationId, op] of Object.entries(this.operations)) {
      const handlers = this.handlers.get(operationId);
      if (!handlers?.length) throw new Error(`The declared operation ${operationId} has no handler`);
      router[op.method](expressPathOf(op.path), ...handlers);
    }
    return router;
  }
}

const SECURITY: Record<Access, RouteConfig['security']> = {
  token: [{ bearer: [] }, { dpop: [] }],
  device: [{ dpop: [] }],
  public: [],
};

/** "Allowed roles (policy `xray.read`): paramedic (only what they captured), doctor, admin." */
function whoMayText(action: Action): string {
  const roles = Object.entries(grantsOf(action)).map(([role, reach]) =>
    reach === 'own' ? `${role} (only what they captured)` : role,
  );
  return `Allowed roles (policy \`${action}\`): ${roles.join(', ') || 'none'}.`;
}

const headerRefs = (uses: readonly HeaderUse[]) =>
  Object.fromEntries(uses.map((u) => [headerNameOf(u), { $ref: `#/components/headers/${headerComponentOf(u)}` }]));

/** Registers operations in the OpenAPI registry, with the statuses every operation of its kind answers. */
export function registerOperations(registry: OpenAPIRegistry, operations: Iterable<Operation>): void {
  for (const op of operations) {
    const implied: Record<number, ApiResponse> =
      op.access === 'public'
        ? { 500: problemResponse(500) }
        : {
            401: problemResponse(401),
            429: problemResponse(429),
            500: problemResponse(500),
            503: problemResponse(503),
          };
    const responses = Object.fromEntries(
      Object.entries({ ...implied, ...op.responses })
        .sort(([a], [b]) => Number(a) - Number(b))
        .map(([status, r]) => {
          // Every answer names its request (X-Request-Id), whatever else it carries.
          const { headers = [], ...rest } = r;
          return [status, { ...rest, headers: headerRefs([...headers, 'X-Request-Id']) }];
        }),
    );
    const description = [op.description, op.action ? whoMayText(op.action) : undefined].filter(Boolean).join('\n\n');
    registry.registerPath({
      method: op.method,
      path: op.path,
      operationId: op.operationId,
      tags: [...op.tags],
      summary: op.summary,
      ...(description ? { description } : {}),
      security: SECURITY[op.access],
      ...(op.request ? { request: op.request } : {}),
      responses,
    });
  }
}

/** The methods a request path is declared for (upper case, HEAD wherever GET is), or undefined for an unknown path. */
export function allowedMethodsFrom(operations: Iterable<Operation>): (path: string) => string[] | undefined {
  const byPath = new Map<string, { pattern: RegExp; methods: Set<string> }>();
  for (const op of operations) {
    let entry = byPath.get(op.path);
    if (!entry) {
      // Express matches case-insensitively, a parameter being one non-empty segment, a trailing slash allowed.
      const source = op.path
        .split(/\{[A-Za-z0-9_]+\}/)
        .map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
        .join('[^/]+');
      entry = { pattern: new RegExp(`^${source}/?$`, 'i'), methods: new Set() };
      byPath.set(op.path, entry);
    }
    entry.methods.add(op.method.toUpperCase());
    if (op.method === 'get') entry.methods.add('HEAD');
  }
  return (path) => {
    const methods = new Set<string>();
    for (const { pattern, methods: m } of byPath.values()) if (pattern.test(path)) m.forEach((x) => methods.add(x));
    return methods.size ? [...methods].sort() : undefined;
  };
}

/** A layer of Express's router stack, read defensively: its shape is Express's, not a typed API. */
function routeOf(layer: unknown): { path: string; methods: string[] } | undefined {
  const route: unknown = Reflect.get(Object(layer), 'route');
  const path: unknown = route && Reflect.get(Object(route), 'path');
  const methods: unknown = route && Reflect.get(Object(route), 'methods');
  if (typeof path !== 'string' || typeof methods !== 'object' || methods === null) return undefined;
  return { path, methods: Object.entries(methods).flatMap(([m, on]) => (on === true && m !== '_all' ? [m] : [])) };
}

function nestedStackOf(layer: unknown): unknown[] | undefined {
  const handle: unknown = Reflect.get(Object(layer), 'handle');
  const stack: unknown = handle && Reflect.get(Object(handle), 'stack');
  return Array.isArray(stack) ? stack : undefined;
}

/** The first segment of a path, as Express compares it (case-insensitively): `/XRays/1` → `xrays`. */
const firstSegmentOf = (path: string): string => {
  const end = path.indexOf('/', 1);
  return (end === -1 ? path.slice(1) : path.slice(1, end)).toLowerCase();
};

/**
 * A route module's router, entered only by requests whose path starts with a segment one of its
 * routes starts with. Express walks every layer of every router mounted without a path, and each
 * router it enters costs allocations; a metadata read passed through four routers and some twenty
 * layers before its own. Only for routers whose every layer acts on its own routes' paths (a
 * RouteTable's, the upload door's); the routes stay visible to mountedRoutesOf.
 */
export function byFirstSegment(router: Router): RequestHandler {
  const segments = new Set<string>();
  const walk = (stack: readonly unknown[]) => {
    for (const layer of stack) {
      const route = routeOf(layer);
      if (route) {
        const first = firstSegmentOf(route.path);
        // A parameter or wildcard first would match any segment: such a router cannot be gated.
        if (!/^[a-z0-9._~-]+$/.test(first)) throw new Error(`byFirstSegment: ${route.path} starts with a parameter`);
        segments.add(first);
      } else walk(nestedStackOf(layer) ?? []);
    }
  };
  walk(router.stack);
  const gate: RequestHandler = (req, res, next) =>
    segments.has(firstSegmentOf(req.path)) ? router(req, res, next) : next();
  return Object.assign(gate, { stack: router.stack });
}

/**
 * Every route mounted on the app, read from Express's own router stack, routers mounted without a
 * path (as every route module is) included: `GET /xrays/{id}`. Middleware (authentication,
 * express.static) is not a route and is not listed; a router mounted under a path prefix would be
 * listed without it, so none is.
 */
export function mountedRoutesOf(app: Express): string[] {
  const out: string[] = [];
  const walk = (stack: readonly unknown[]) => {
    for (const layer of stack) {
      const route = routeOf(layer);
      if (route) out.push(...route.methods.map((m) => `${m.toUpperCase()} ${openApiPathOf(route.path)}`));
      else walk(nestedStackOf(layer) ?? []);
    }
  };
  walk(app.router.stack);
  return out;
}
