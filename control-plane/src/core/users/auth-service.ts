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
import { type Principal, principalOf, roleToProto } from "../../platform/auth/principal.ts";
import { decoyPasswordHash, hashSecret, newSecret, verifyPassword } from "../../platform/auth/secrets.ts";
import type { Clock } from "../../platform/clock.ts";
import { Session, Tenant, User } from "../../platform/db/entities.ts";
import { type RateLimitConfig, RequestLimiter, retryIn, TokenBuckets } from "../../platform/rate-limit/index.ts";
import { peerAddress } from "../../platform/server/peer.ts";

/** Dependencies of {@link createAuthService}. */
export interface AuthServiceDeps {
  orm: MikroORM;
  clock: Clock;
  sessionTtlMs: number;
  /** Login attempts per client IP and in total; {@link defaultLoginRateLimits} when unset. */
  loginRateLimits?: RateLimitConfig;
}

/**
 * Login limits per client IP and for everyone together. An office behind one NAT signs in at
 * 9 am well within 20 in a burst; a guesser cycling through accounts gets 12 a minute. The global
 * bucket bounds the scrypt work (~0.1 s of CPU per attempt) a distributed guesser can cause.
 */
export const defaultLoginRateLimits: RateLimitConfig = {
  perIp: { burst: 20, perSecond: 0.2 },
  global: { burst: 100, perSecond: 10 },
};

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
 * tenant, email or password all answer the same, after the same scrypt work. Attempts are
 * rate-limited per client IP and in total (`loginRateLimits`), then per account (10 in a burst,
 * then one per 10 s), before any scrypt work; a refusal says when to retry.
 */
export function createAuthService(deps: AuthServiceDeps): ServiceImpl<typeof AuthService> {
  const now = () => deps.clock.now().getTime();
  const perAddress = new RequestLimiter(deps.loginRateLimits ?? defaultLoginRateLimits, now, "with sign-ins");
  const perAccount = new TokenBuckets({ burst: 10, perSecond: 0.1 }, now);
  return {
    async login(req, context) {
      perAddress.check(peerAddress(context));
      const email = req.email.trim().toLowerCase();
      const slug = req.tenant.trim();
      const accountWait = perAccount.acquire(`${slug}\n${email}`);
      if (accountWait > 0) {
        throw new ConnectError(
          `too many login attempts for this account; ${retryIn(accountWait)}`,
          Code.ResourceExhausted,
        );
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
