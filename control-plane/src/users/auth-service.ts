import { randomUUID } from "node:crypto";
import {
  type AuthService,
  type Principal as PrincipalMessage,
  PrincipalSchema,
} from "@avtech/proto/gen/avtech/auth/v1/auth_pb.js";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { MikroORM } from "@mikro-orm/postgresql";
import { type Principal, principalOf, roleToProto } from "../auth/principal.ts";
import { decoyPasswordHash, hashSecret, newSecret, verifyPassword } from "../auth/secrets.ts";
import type { Clock } from "../clock.ts";
import { Session, Tenant, User } from "../db/entities.ts";
import { TokenBuckets } from "../rate-limit/index.ts";

/** Dependencies of {@link createAuthService}. */
export interface AuthServiceDeps {
  orm: MikroORM;
  clock: Clock;
  sessionTtlMs: number;
}

const wrongCredentials = "wrong tenant, email or password";

/** A principal on the wire. */
export function principalToProto(principal: Principal): PrincipalMessage {
  return create(PrincipalSchema, {
    userId: principal.userId ?? "",
    apiTokenId: principal.apiTokenId ?? "",
    displayName: principal.displayName ?? principal.actorName,
    email: principal.email ?? "",
    role: roleToProto(principal.role),
    tenantId: principal.tenantId,
    tenantName: principal.tenantName,
  });
}

/**
 * AuthService: password login (scrypt) giving a sliding session, logout, who-am-i. A wrong
 * tenant, email or password all answer the same, after the same scrypt work; attempts per
 * account are rate-limited (10 in a burst, then one per 10 s).
 */
export function createAuthService(deps: AuthServiceDeps): ServiceImpl<typeof AuthService> {
  const attempts = new TokenBuckets({ burst: 10, perSecond: 0.1 }, () => deps.clock.now().getTime());
  return {
    async login(req) {
      const email = req.email.trim().toLowerCase();
      const slug = req.tenant.trim();
      if (!attempts.take(`${slug}\n${email}`)) {
        throw new ConnectError("too many login attempts for this account; wait a minute", Code.ResourceExhausted);
      }
      const em = deps.orm.em.fork();
      const tenant = await em.findOne(Tenant, { slug });
      const user = tenant ? await em.findOne(User, { tenant: tenant.id, email }) : null;
      const ok = await verifyPassword(req.password, user?.passwordHash ?? (await decoyPasswordHash()));
      if (!tenant || !user || !ok || user.disabled) throw new ConnectError(wrongCredentials, Code.Unauthenticated);
      const now = deps.clock.now();
      const secret = newSecret("avs");
      const expiresAt = new Date(now.getTime() + deps.sessionTtlMs);
      const session = em.create(Session, {
        id: randomUUID(),
        tenant: tenant.id,
        user: user.id,
        tokenHash: hashSecret(secret),
        expiresAt,
      });
      user.lastLoginAt = now;
      await em.flush();
      return {
        sessionToken: secret,
        expiresAt: timestampFromDate(expiresAt),
        principal: principalToProto({
          tenantId: tenant.id,
          tenantName: tenant.name,
          role: user.role,
          actorId: user.id,
          actorName: user.email,
          kind: "user",
          userId: user.id,
          sessionId: session.id,
          email: user.email,
          displayName: user.displayName,
        }),
      };
    },

    async logout(_req, context) {
      const principal = principalOf(context);
      if (principal.sessionId) {
        await deps.orm.em.fork().nativeDelete(Session, { id: principal.sessionId, tenant: principal.tenantId });
      }
      return {};
    },

    async whoAmI(_req, context) {
      return { principal: principalToProto(principalOf(context)) };
    },
  };
}
