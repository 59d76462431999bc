import type { Request, RequestHandler } from 'express';
import type { AuditAction } from '@xray/shared';
import { isDatabaseUnavailable } from '../db/pool.ts';
import { DomainError, ERRORS } from '../errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { AuditContext, AuditService } from './audit.service.ts';

declare global {
  namespace Express {
    interface Request {
      /** This request's part of the audit trail; requestAuditing() sets it on every request. */
      audit?: RequestAudit;
    }
  }
}

/** What the audit trail keeps about who asked (req.ip honours TRUST_PROXY; requestLog sets req.id). */
export function auditContextOf(req: Request): AuditContext {
  const id: unknown = req.id;
  return {
    actor: req.actor ? { sub: req.actor.sub, roles: [...req.actor.roles] } : null,
    ip: req.ip ?? null,
    // A header may carry raw C1 bytes: kept readable, never as controls in the trail or its exports.
    userAgent:
      req
        .get('user-agent')
        ?.replace(/\p{Cc}/gu, '\uFFFD')
        .slice(0, 512) ?? null,
    requestId: typeof id === 'string' || typeof id === 'number' ? String(id) : null,
  };
}

/**
 * One request's part of the audit trail. A route names its action first (`begin`), adds what it
 * learns (`about`), then records success — or, where the change and its audit row commit in one
 * transaction, says the domain did (`recordedInTransaction`). What the route does not finish,
 * the problem response does (`problem`): a 401/403 becomes `access.denied`, any other refusal of
 * a begun action becomes that action with outcome `failed`. So every audited request leaves
 * exactly one event.
 */
export class RequestAudit {
  private action: AuditAction | undefined;
  private readonly target: { xrayId: string | null; patientId: string | null } = { xrayId: null, patientId: null };
  private recorded = false;
  private inAggregate = false;
  private denial: string | undefined;

  constructor(
    private readonly service: AuditService,
    private readonly req: Request,
    private readonly log: Logger,
  ) {}

  /** Read when needed: authentication sets req.actor after this object is made. */
  context(): AuditContext {
    return auditContextOf(this.req);
  }

  begin(action: AuditAction): this {
    this.action = action;
    return this;
  }

  /** The X-ray and patient the action concerns, as soon as they are known (a denial or failure names them too). */
  about(target: { xrayId?: string | null; patientId?: string | null }): this {
    if (target.xrayId !== undefined) this.target.xrayId = target.xrayId;
    if (target.patientId !== undefined) this.target.patientId = target.patientId;
    return this;
  }

  /**
   * Appends the begun action's success. Call it before disclosing anything: when the event cannot
   * be written this throws, and the request fails instead of reading unaudited.
   */
  async success(details?: Record<string, unknown>): Promise<void> {
    if (!this.action) throw new Error('RequestAudit.success() called before begin()');
    if (this.recorded) return;
    await this.service.record({
      context: this.context(),
      action: this.action,
      outcome: 'success',
      ...this.target,
      details,
    });
    this.recorded = true;
  }

  /**
   * The refusal about to be thrown is a denial even though its answer is not 401/403 — e.g. the
   * policy's 404 for another user's X-ray, which must look like a missing one to the caller but
   * is recorded as `access.denied` with this reason.
   */
  denying(reason: string): this {
    this.denial = reason;
    return this;
  }

  /**
   * This refusal is counted in an aggregated event written later instead of leaving one of its
   * own: a repeated failed authentication from one client (AuthFailureLimiter).
   */
  aggregated(): void {
    this.inAggregate = true;
  }

  /** The domain wrote this request's event in the same transaction as its change. */
  recordedInTransaction(): void {
    this.recorded = true;
  }

  /** Records a refusal before it is answered (called from sendProblem). Never throws: the refusal goes out regardless. */
  async problem(err: DomainError): Promise<void> {
    if (this.inAggregate) return;
    const denial = this.denial ?? err.denial;
    const denied = ERRORS[err.code].status === 401 || err.code === 'forbidden' || denial !== undefined;
    const action = denied ? 'access.denied' : this.action;
    if (!action || (this.recorded && !denied)) return;
    // The database itself cannot be reached: its audit trail cannot take the event either, and
    // trying would hold the 503 for another connect or statement timeout. The log keeps it.
    if (err.code === 'unavailable' && isDatabaseUnavailable(err.cause)) {
      this.log.warn(
        { code: err.code, action, url: this.req.originalUrl, actor: this.req.actor?.sub },
        'refusal not audited: the database is unavailable',
      );
      return;
    }
    const common = {
      error: err.code,
      status: ERRORS[err.code].status,
      reason: err.message,
      ...(denial ? { denial } : {}),
      ...err.auditDetails,
    };
    try {
      await this.service.record({
        context: this.context(),
        action,
        outcome: denied ? 'denied' : 'failed',
        ...this.target,
        details: denied
          ? {
              attempted: this.action ?? null,
              method: this.req.method,
              path: this.req.originalUrl.split('?')[0] ?? '',
              ...common,
            }
          : common,
      });
      this.recorded = true;
    } catch (e) {
      this.log.error({ err: e, code: err.code, url: this.req.originalUrl }, 'could not audit a refused request');
    }
  }
}

/** Gives every request its RequestAudit; install before any route. */
export function requestAuditing(service: AuditService, log: Logger): RequestHandler {
  return (req, _res, next) => {
    req.audit = new RequestAudit(service, req, log);
    next();
  };
}

/**
 * Runs a policy check; whatever it refuses is recorded as `access.denied` — including the 404 that
 * hides another user's X-ray, which would otherwise look like a failed read.
 */
export function asDenial<T>(req: Request, check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof DomainError) auditOf(req).denying('policy');
    throw err;
  }
}

/** The request's audit trail (requestAuditing() runs before every route). */
export function auditOf(req: Request): RequestAudit {
  if (!req.audit) throw new Error('requestAuditing() is not installed before this route');
  return req.audit;
}
