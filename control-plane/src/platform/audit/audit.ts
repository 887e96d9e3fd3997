import { randomUUID } from "node:crypto";
import { Code, ConnectError, createContextKey, type HandlerContext, type Interceptor } from "@connectrpc/connect";
import type { MikroORM } from "@mikro-orm/postgresql";
import type { Logger } from "pino";
import { type MethodPolicy, policyFor, procedureName } from "../auth/policy.ts";
import { type Principal, principalKey } from "../auth/principal.ts";
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

/** A note with no subject yet: what a call refused before its handler ran is recorded with. */
export function newAuditNote(): AuditNote {
  return { subjectType: "", subjectId: "" };
}

/** True when calls under `policy` are recorded: authenticated mutations, refused ones included. */
export function isAudited(policy: MethodPolicy): boolean {
  return policy.mutating && !policy.public;
}

/** One finished mutating operation, as {@link AuditLog.record} takes it. */
export interface AuditEntry {
  principal: Principal;
  /** The procedure's name ({@link procedureName}); an HTTP route uses the name of the RPC it is declared as. */
  action: string;
  note: AuditNote;
  /** What the operation threw (before any error normalisation), or undefined when it succeeded. */
  error: unknown;
}

/** The audit log's writer: the one row format for RPCs and plain HTTP routes. */
export interface AuditLog {
  /**
   * Writes one audit event: actor, action, subject, before/after (after only on success) and the
   * result (`ok` or the {@link codeName} of the error, with its raw message). Uses its own
   * EntityManager fork, so a rolled-back handler transaction does not take the event with it.
   * Never throws: the operation's own outcome stands, and a lost row is logged as an error.
   */
  record(entry: AuditEntry): Promise<void>;
}

/** The {@link AuditLog} over one ORM. */
export function createAuditLog(deps: { orm: MikroORM; clock: Clock; logger: Logger }): AuditLog {
  return {
    async record({ principal, action, note, error }) {
      const failure = error === undefined ? undefined : ConnectError.from(error);
      try {
        const em = deps.orm.em.fork();
        em.create(AuditEvent, {
          id: randomUUID(),
          tenant: principal.tenantId,
          at: deps.clock.now(),
          actorId: principal.actorId,
          actorName: principal.actorName,
          action,
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
        deps.logger.error({ err: writeError, action }, "could not write audit event");
      }
    },
  };
}

/**
 * Records every authenticated mutating call in `log`, successful or not, after the call finishes
 * (see {@link AuditLog.record}); the handler describes its subject with {@link noteAudit}.
 */
export function createAuditInterceptor(log: AuditLog): Interceptor {
  return (next) => async (req) => {
    const policy = policyFor(req.service.typeName, req.method.name);
    const principal = req.contextValues.get(principalKey);
    if (!isAudited(policy) || !principal) return next(req);
    const note = newAuditNote();
    req.contextValues.set(noteKey, note);
    const action = procedureName(req.service.typeName, req.method.name);
    return observe(req, next, (error) => log.record({ principal, action, note, error }));
  };
}
