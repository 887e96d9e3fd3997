import type { DescMethod } from "@bufbuild/protobuf";
import type { MikroORM } from "@mikro-orm/postgresql";
import { type AuditLog, type AuditNote, isAudited, newAuditNote } from "../audit/audit.ts";
import { authenticate, authorize, type TokenResolver } from "../auth/access.ts";
import { methodPolicy, procedureName } from "../auth/policy.ts";
import type { Principal } from "../auth/principal.ts";
import { scopeOf, type TenantScope } from "../db/tenant-scope.ts";
import type { AnyRequest } from "./http-routes.ts";

/** What {@link createHttpAccess} needs: the very resolver and audit log the RPC interceptors use. */
export interface HttpAccessDeps {
  orm: MikroORM;
  tokens: TokenResolver;
  audit: AuditLog;
}

/** What a plain HTTP route's work gets once its caller is let through. */
export interface HttpCall {
  principal: Principal;
  /** The caller's tenant: the only door to tenant-owned rows, as `ScopeFactory` is for RPCs. */
  scope: TenantScope;
  /** Describes the subject for the audit row, as `noteAudit` does in an RPC handler (a no-op for reads). */
  note(note: Partial<AuditNote>): void;
}

/** The RPC interceptor chain's steps for plain HTTP routes. */
export interface HttpAccess {
  /**
   * Runs `work` as the RPC `method` (an entry of `httpRoutes` in auth/policy.ts) runs behind the
   * interceptors, with the same functions in the same order: {@link authenticate} the request's
   * bearer token (UNAUTHENTICATED), then, when the method is audited, record one row under the
   * method's procedure name once everything after has finished, refusals included, then
   * {@link authorize} the caller against the method's policy (PERMISSION_DENIED), then `work`.
   * Resolves to what `work` returns and throws what a step or `work` throws; the route turns errors
   * into its answer.
   */
  run<T>(req: AnyRequest, method: DescMethod, work: (call: HttpCall) => Promise<T>): Promise<T>;
}

/** The {@link HttpAccess} over the server's token resolver and audit log. */
export function createHttpAccess(deps: HttpAccessDeps): HttpAccess {
  return {
    async run(req, method, work) {
      const policy = methodPolicy(method);
      if (policy.public) {
        // Every route declared in httpRoutes stands for a protected RPC; a public one is a wiring error.
        throw new Error(`${procedureName(method.parent.typeName, method.name)} is public: it needs no HttpAccess`);
      }
      const principal = await authenticate(deps.tokens, req.headers.authorization);
      const note = newAuditNote();
      const call: HttpCall = {
        principal,
        scope: scopeOf(deps.orm, principal),
        note: (more) => Object.assign(note, more),
      };
      const authorized = async () => {
        authorize(principal, policy, method.name);
        return work(call);
      };
      if (!isAudited(policy)) return authorized();
      const action = procedureName(method.parent.typeName, method.name);
      try {
        const result = await authorized();
        await deps.audit.record({ principal, action, note, error: undefined });
        return result;
      } catch (error) {
        await deps.audit.record({ principal, action, note, error });
        throw error;
      }
    },
  };
}
