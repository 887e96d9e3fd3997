import { randomUUID } from "node:crypto";
import { Code, ConnectError, createContextKey, type HandlerContext, type Interceptor } from "@connectrpc/connect";
import type { MikroORM } from "@mikro-orm/postgresql";
import type { Logger } from "pino";
import { policyFor } from "../auth/policy.ts";
import { principalKey } from "../auth/principal.ts";
import type { Clock } from "../clock.ts";
import { AuditEvent } from "../db/entities.ts";
import { observe } from "../server/observe.ts";

/** What a handler tells the audit log about the object it changed. */
export interface AuditNote {
  subjectType: string;
  subjectId: string;
  /** JSON-serialisable snapshot before the change; undefined for creations. */
  before?: unknown;
  /** Snapshot after the change; undefined for deletions. */
  after?: unknown;
}

const noteKey = createContextKey<AuditNote | undefined>(undefined, { description: "audit note of a mutating call" });

/**
 * Records what a mutating handler changed. Call it as soon as the subject is known (and again
 * when `after` is), so a failure later in the handler is still attributed to its subject.
 */
export function noteAudit(context: HandlerContext, note: Partial<AuditNote>): void {
  const current = context.values.get(noteKey);
  if (current) Object.assign(current, note);
}

/** Connect code → the audit log's result word, e.g. Code.FailedPrecondition → "failed_precondition". */
export function codeName(code: Code): string {
  return Code[code].replace(/[A-Z]/g, (c, i: number) => (i === 0 ? c.toLowerCase() : `_${c.toLowerCase()}`));
}

/**
 * Writes one audit event for every authenticated mutating call, successful or not, after the call
 * finishes: actor, action, subject, before/after and the result. Writes use their own
 * EntityManager fork so a rolled-back handler transaction does not take the event with it.
 */
export function createAuditInterceptor(orm: MikroORM, clock: Clock, logger: Logger): Interceptor {
  return (next) => async (req) => {
    const policy = policyFor(req.service.typeName, req.method.name);
    const principal = req.contextValues.get(principalKey);
    if (!policy.mutating || policy.public || !principal) return next(req);
    const note: AuditNote = { subjectType: "", subjectId: "" };
    req.contextValues.set(noteKey, note);
    return observe(req, next, async (error) => {
      const failure = error === undefined ? undefined : ConnectError.from(error);
      try {
        const em = orm.em.fork();
        em.create(AuditEvent, {
          id: randomUUID(),
          tenant: principal.tenantId,
          at: clock.now(),
          actorId: principal.actorId,
          actorName: principal.actorName,
          action: `${req.service.typeName}/${req.method.name}`,
          subjectType: note.subjectType,
          subjectId: note.subjectId,
          before: note.before ?? null,
          after: failure ? null : (note.after ?? null),
          result: failure ? codeName(failure.code) : "ok",
          message: failure ? failure.rawMessage : "",
        });
        await em.flush();
      } catch (writeError) {
        // The call's own outcome stands; a lost audit row is an operator alarm, not a client error.
        logger.error({ err: writeError, action: req.method.name }, "could not write audit event");
      }
    });
  };
}
