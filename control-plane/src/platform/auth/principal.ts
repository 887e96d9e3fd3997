import { Role } from "@avtech/proto/gen/avtech/auth/v1/auth_pb.js";
import { Code, ConnectError, createContextKey, type HandlerContext } from "@connectrpc/connect";
import { type RoleName, roles } from "../db/entities.ts";

/** Who is calling: established by the auth interceptor from the bearer token. */
export interface Principal {
  tenantId: string;
  tenantName: string;
  role: RoleName;
  /** User id or API-token id: what the audit log records as actor. */
  actorId: string;
  /** Email of the user or name of the token. */
  actorName: string;
  kind: "user" | "api_token";
  /** Set for a user session. */
  userId?: string;
  /** Set for a user session: the session to revoke on logout. */
  sessionId?: string;
  /** Set for an API token. */
  apiTokenId?: string;
  email?: string;
  displayName?: string;
}

/** Context key holding the caller; undefined for public methods. */
export const principalKey = createContextKey<Principal | undefined>(undefined, { description: "authenticated caller" });

/** The caller of an authenticated RPC; UNAUTHENTICATED if none (a wiring error for a protected method). */
export function principalOf(context: HandlerContext): Principal {
  const principal = context.values.get(principalKey);
  if (!principal) throw new ConnectError("this call needs `authorization: Bearer <token>`", Code.Unauthenticated);
  return principal;
}

/** True when `role` is at least `minimum` (viewer < editor < admin). */
export function roleAtLeast(role: RoleName, minimum: RoleName): boolean {
  return roles.indexOf(role) >= roles.indexOf(minimum);
}

const toProto: Record<RoleName, Role> = { viewer: Role.VIEWER, editor: Role.EDITOR, admin: Role.ADMIN };

/** Stored role name → wire enum. */
export function roleToProto(role: RoleName): Role {
  return toProto[role];
}

/** Wire enum → stored role name; INVALID_ARGUMENT for UNSPECIFIED or a value this server does not know. */
export function roleFromProto(role: Role, field = "role"): RoleName {
  switch (role) {
    case Role.VIEWER:
      return "viewer";
    case Role.EDITOR:
      return "editor";
    case Role.ADMIN:
      return "admin";
    default:
      throw new ConnectError(
        `${field} must be ROLE_VIEWER (1), ROLE_EDITOR (2) or ROLE_ADMIN (3), got ${role}`,
        Code.InvalidArgument,
      );
  }
}
