import type { MikroORM } from "@mikro-orm/postgresql";
import type { Clock } from "../clock.ts";
import { ApiToken, Session } from "../db/entities.ts";
import type { TokenResolver } from "./access.ts";
import type { Principal } from "./principal.ts";
import { hashSecret } from "./secrets.ts";

/**
 * Resolves session and API-token secrets against the database by their sha256. Sessions slide:
 * each use moves the expiry to now + ttl (written at most once a minute to spare the database).
 */
export function createDbTokenResolver(orm: MikroORM, clock: Clock, sessionTtlMs: number): TokenResolver {
  return {
    async resolve(secret) {
      const tokenHash = hashSecret(secret);
      const em = orm.em.fork();
      const now = clock.now();
      if (secret.startsWith("avt_")) {
        const token = await em.findOne(ApiToken, { tokenHash }, { populate: ["tenant"] });
        if (!token || token.revokedAt || (token.expiresAt && token.expiresAt <= now)) return undefined;
        if (!token.lastUsedAt || now.getTime() - token.lastUsedAt.getTime() > 60_000) {
          await em.nativeUpdate(ApiToken, { id: token.id }, { lastUsedAt: now });
        }
        return {
          tenantId: token.tenant.id,
          tenantName: token.tenant.name,
          role: token.role,
          actorId: token.id,
          actorName: token.name,
          kind: "api_token",
          apiTokenId: token.id,
          displayName: token.name,
        } satisfies Principal;
      }
      const session = await em.findOne(Session, { tokenHash }, { populate: ["tenant", "user"] });
      if (!session || session.expiresAt <= now || session.user.disabled) return undefined;
      const expiresAt = new Date(now.getTime() + sessionTtlMs);
      if (expiresAt.getTime() - session.expiresAt.getTime() > 60_000) {
        await em.nativeUpdate(Session, { id: session.id }, { expiresAt });
      }
      return {
        tenantId: session.tenant.id,
        tenantName: session.tenant.name,
        role: session.user.role,
        actorId: session.user.id,
        actorName: session.user.email,
        kind: "user",
        userId: session.user.id,
        sessionId: session.id,
        email: session.user.email,
        displayName: session.user.displayName,
      } satisfies Principal;
    },
  };
}
