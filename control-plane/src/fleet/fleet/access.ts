import type { Target } from "@avtech/proto/gen/avtech/schedule/v1/schedule_pb.js";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import type { TargetSelector } from "../../core/desired-state/index.ts";
import type { Principal } from "./ports.ts";

/** How a handler learns its caller; the core's auth interceptor provides it (e.g. from a context value). */
export type PrincipalOf = (context: HandlerContext) => Principal;

/** The caller, who must hold one of `roles`; PERMISSION_DENIED otherwise. */
export function requireRole(principalOf: PrincipalOf, context: HandlerContext, roles: Principal["role"][]): Principal {
  const principal = principalOf(context);
  if (!roles.includes(principal.role)) {
    throw new ConnectError(
      `this needs one of the roles ${roles.join(", ")}; you are ${principal.role}`,
      Code.PermissionDenied,
    );
  }
  return principal;
}

/** Roles that may change the fleet or publish. */
export const writers: Principal["role"][] = ["admin", "editor"];
/** Every role may look. */
export const readers: Principal["role"][] = ["admin", "editor", "viewer"];

/** Converts a proto Target; INVALID_ARGUMENT when it selects nothing. */
export function targetFromProto(target: Target): TargetSelector {
  switch (target.kind.case) {
    case "screenId":
      return { kind: "screen", screenId: target.kind.value };
    case "groupId":
      return { kind: "group", groupId: target.kind.value };
    case "tag":
      return { kind: "tag", tag: target.kind.value };
    case "wholeTenant":
      if (target.kind.value) return { kind: "tenant" };
      break;
    case undefined:
      break;
  }
  throw new ConnectError("a target must set screen_id, group_id, tag or whole_tenant=true", Code.InvalidArgument);
}
