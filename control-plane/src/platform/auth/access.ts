import { Code, ConnectError } from "@connectrpc/connect";
import { parseBearerToken } from "./bearer.ts";
import type { MethodPolicy } from "./policy.ts";
import { type Principal, roleAtLeast } from "./principal.ts";

/** Turns a bearer secret into a principal; undefined when unknown, expired or revoked. */
export interface TokenResolver {
  resolve(secret: string): Promise<Principal | undefined>;
}

/**
 * The caller behind an `authorization` header value (`Bearer <session or API token>`), the first
 * step of every protected operation, RPC or plain HTTP route alike. Throws UNAUTHENTICATED when
 * the header holds no bearer token, or one the resolver does not know (unknown, expired, revoked);
 * both messages say what to send, neither says which tokens exist.
 */
export async function authenticate(
  resolver: TokenResolver,
  authorization: string | null | undefined,
): Promise<Principal> {
  const secret = parseBearerToken(authorization);
  if (!secret) {
    throw new ConnectError(
      "missing credentials: send `authorization: Bearer <session token or API token>`",
      Code.Unauthenticated,
    );
  }
  const principal = await resolver.resolve(secret);
  if (!principal) {
    throw new ConnectError(
      "the bearer token is unknown, expired or revoked: log in again or use a valid API token",
      Code.Unauthenticated,
    );
  }
  return principal;
}

/**
 * Checks the caller against an operation's policy (see {@link policyFor}): PERMISSION_DENIED,
 * naming the operation (`methodName`) and the role it needs, when the caller's role is below
 * `policy.minRole` or there is no caller. Public operations let anyone through; an operation the
 * policy does not declare (`declared: false`) is refused to everyone, admins included.
 */
export function authorize(principal: Principal | undefined, policy: MethodPolicy, methodName: string): void {
  if (!policy.declared) {
    throw new ConnectError(
      `${methodName} has no access rule in the control plane's policy, so it is refused to everyone`,
      Code.PermissionDenied,
    );
  }
  if (policy.public) return;
  if (!principal || !roleAtLeast(principal.role, policy.minRole)) {
    throw new ConnectError(
      `${methodName} needs the ${policy.minRole} role; the caller is ${principal?.role ?? "anonymous"}`,
      Code.PermissionDenied,
    );
  }
}
