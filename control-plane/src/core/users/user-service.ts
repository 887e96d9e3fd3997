import { randomUUID } from "node:crypto";
import type { UserService } from "@avtech/proto/gen/avtech/auth/v1/user_pb.js";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { UniqueConstraintViolationException } from "@mikro-orm/postgresql";
import { noteAudit } from "../../platform/audit/index.ts";
import { principalOf, roleAtLeast, roleFromProto } from "../../platform/auth/principal.ts";
import { hashPassword, hashSecret, newSecret } from "../../platform/auth/secrets.ts";
import type { Clock } from "../../platform/clock.ts";
import { ApiToken, Session, User } from "../../platform/db/entities.ts";
import type { ScopeFactory } from "../../platform/db/tenant-scope.ts";
import { requireEmail, requireId, requireName, requirePassword } from "../../platform/validation.ts";
import { apiTokenToProto, userSnapshot, userToProto } from "./convert.ts";

/** Dependencies of {@link createUserService}. */
export interface UserServiceDeps {
  scope: ScopeFactory;
  clock: Clock;
}

/** UserService: people and API tokens of the caller's tenant (admin role, enforced by the interceptor). */
export function createUserService(deps: UserServiceDeps): ServiceImpl<typeof UserService> {
  return {
    async listUsers(_req, context) {
      const users = await deps.scope(context).find(User, {}, { orderBy: { email: "asc" } });
      return { users: users.map(userToProto) };
    },

    async createUser(req, context) {
      const scope = deps.scope(context);
      const email = requireEmail(req.email);
      noteAudit(context, { subjectType: "user", subjectId: email });
      const role = roleFromProto(req.role);
      requirePassword(req.password);
      const displayName = requireName(req.displayName || email, "display_name");
      const user = scope.create(User, {
        id: randomUUID(),
        email,
        displayName,
        role,
        passwordHash: await hashPassword(req.password),
        disabled: false,
      });
      try {
        await scope.em.flush();
      } catch (error) {
        if (error instanceof UniqueConstraintViolationException) {
          throw new ConnectError(`a user with email ${email} already exists in this tenant`, Code.AlreadyExists);
        }
        throw error;
      }
      noteAudit(context, { subjectId: user.id, after: userSnapshot(user) });
      return { user: userToProto(user) };
    },

    async updateUser(req, context) {
      const scope = deps.scope(context);
      const id = requireId(req.id, "id");
      noteAudit(context, { subjectType: "user", subjectId: id });
      const user = await scope.findOne(User, { id });
      if (!user) throw new ConnectError(`user ${id} not found`, Code.NotFound);
      noteAudit(context, { before: userSnapshot(user) });
      const me = principalOf(context);
      if (req.displayName) user.displayName = requireName(req.displayName, "display_name");
      if (req.role !== 0) {
        const role = roleFromProto(req.role);
        if (user.id === me.userId && role !== "admin") {
          throw new ConnectError("you cannot remove your own admin role; ask another admin", Code.FailedPrecondition);
        }
        user.role = role;
      }
      if (req.disabled !== undefined) {
        if (user.id === me.userId && req.disabled) {
          throw new ConnectError("you cannot disable yourself", Code.FailedPrecondition);
        }
        user.disabled = req.disabled;
      }
      const revokeSessions = Boolean(req.password) || user.disabled;
      if (req.password) user.passwordHash = await hashPassword(requirePassword(req.password));
      await scope.em.flush();
      if (revokeSessions) await scope.em.nativeDelete(Session, { user: user.id, tenant: scope.tenantId });
      noteAudit(context, { after: userSnapshot(user) });
      return { user: userToProto(user) };
    },

    async deleteUser(req, context) {
      const scope = deps.scope(context);
      const id = requireId(req.id, "id");
      noteAudit(context, { subjectType: "user", subjectId: id });
      if (id === principalOf(context).userId) {
        throw new ConnectError("an admin cannot delete themselves; ask another admin", Code.FailedPrecondition);
      }
      const user = await scope.findOne(User, { id });
      if (!user) throw new ConnectError(`user ${id} not found`, Code.NotFound);
      noteAudit(context, { before: userSnapshot(user) });
      scope.em.remove(user);
      await scope.em.flush();
      return {};
    },

    async listApiTokens(_req, context) {
      const tokens = await deps.scope(context).find(ApiToken, {}, { orderBy: { createdAt: "desc" } });
      return { tokens: tokens.map(apiTokenToProto) };
    },

    async createApiToken(req, context) {
      const scope = deps.scope(context);
      const me = principalOf(context);
      const name = requireName(req.name, "name");
      noteAudit(context, { subjectType: "api_token", subjectId: name });
      const role = roleFromProto(req.role);
      if (!roleAtLeast(me.role, role)) {
        throw new ConnectError(
          `a token cannot have a higher role (${role}) than its creator (${me.role})`,
          Code.PermissionDenied,
        );
      }
      const expiresAt = req.expiresAt ? timestampDate(req.expiresAt) : null;
      if (expiresAt && expiresAt <= deps.clock.now()) {
        throw new ConnectError("expires_at must be in the future", Code.InvalidArgument);
      }
      const secret = newSecret("avt");
      const token = scope.create(ApiToken, {
        id: randomUUID(),
        name,
        role,
        tokenHash: hashSecret(secret),
        createdBy: me.actorId,
        expiresAt,
      });
      await scope.em.flush();
      noteAudit(context, { subjectId: token.id, after: { id: token.id, name, role } });
      return { token: apiTokenToProto(token), secret };
    },

    async revokeApiToken(req, context) {
      const scope = deps.scope(context);
      const id = requireId(req.id, "id");
      noteAudit(context, { subjectType: "api_token", subjectId: id });
      const token = await scope.findOne(ApiToken, { id });
      if (!token) throw new ConnectError(`API token ${id} not found`, Code.NotFound);
      noteAudit(context, { before: { revoked: Boolean(token.revokedAt) } });
      token.revokedAt ??= deps.clock.now();
      await scope.em.flush();
      noteAudit(context, { after: { revoked: true } });
      return {};
    },
  };
}
