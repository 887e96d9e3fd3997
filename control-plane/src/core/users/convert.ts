import {
  type ApiToken as ApiTokenMessage,
  ApiTokenSchema,
  type User as UserMessage,
  UserSchema,
} from "@avtech/proto/gen/avtech/auth/v1/user_pb.js";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { roleToProto } from "../../platform/auth/principal.ts";
import type { ApiToken, User } from "../../platform/db/entities.ts";

/** A user row on the wire (never the password hash). */
export function userToProto(user: User): UserMessage {
  return create(UserSchema, {
    id: user.id,
    email: user.email,
    displayName: user.displayName,
    role: roleToProto(user.role),
    disabled: user.disabled,
    createdAt: timestampFromDate(user.createdAt),
    lastLoginAt: user.lastLoginAt ? timestampFromDate(user.lastLoginAt) : undefined,
  });
}

/** The audit snapshot of a user. */
export function userSnapshot(user: User): Record<string, unknown> {
  return { id: user.id, email: user.email, displayName: user.displayName, role: user.role, disabled: user.disabled };
}

/** A token row on the wire (never the secret or its hash). */
export function apiTokenToProto(token: ApiToken): ApiTokenMessage {
  return create(ApiTokenSchema, {
    id: token.id,
    name: token.name,
    role: roleToProto(token.role),
    createdAt: timestampFromDate(token.createdAt),
    expiresAt: token.expiresAt ? timestampFromDate(token.expiresAt) : undefined,
    lastUsedAt: token.lastUsedAt ? timestampFromDate(token.lastUsedAt) : undefined,
    revoked: token.revokedAt !== null && token.revokedAt !== undefined,
  });
}
