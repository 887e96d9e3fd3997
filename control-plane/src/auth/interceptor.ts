import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { parseBearerToken } from "./bearer.ts";
import { policyFor } from "./policy.ts";
import { type Principal, principalKey, roleAtLeast } from "./principal.ts";

/** Turns a bearer secret into a principal; undefined when unknown, expired or revoked. */
export interface TokenResolver {
  resolve(secret: string): Promise<Principal | undefined>;
}

/**
 * Authenticates every non-public call: `authorization: Bearer <session or API token>` → principal
 * in the context (see {@link principalKey}). Missing/unknown tokens get UNAUTHENTICATED with the
 * same message, so a caller cannot probe which tokens exist.
 */
export function createAuthenticateInterceptor(resolver: TokenResolver): Interceptor {
  return (next) => async (req) => {
    const policy = policyFor(req.service.typeName, req.method.name);
    if (policy.public) return next(req);
    const secret = parseBearerToken(req.header.get("authorization"));
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
    req.contextValues.set(principalKey, principal);
    return next(req);
  };
}

/** Enforces each method's minimum role (PERMISSION_DENIED). Runs after authentication and auditing. */
export function createAuthorizeInterceptor(): Interceptor {
  return (next) => async (req) => {
    const policy = policyFor(req.service.typeName, req.method.name);
    if (policy.public) return next(req);
    const principal = req.contextValues.get(principalKey);
    if (!principal || !roleAtLeast(principal.role, policy.minRole)) {
      throw new ConnectError(
        `${req.method.name} needs the ${policy.minRole} role; the caller is ${principal?.role ?? "anonymous"}`,
        Code.PermissionDenied,
      );
    }
    return next(req);
  };
}
