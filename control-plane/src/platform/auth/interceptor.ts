import type { Interceptor } from "@connectrpc/connect";
import { authenticate, authorize, type TokenResolver } from "./access.ts";
import { policyFor } from "./policy.ts";
import { principalKey } from "./principal.ts";

/**
 * Authenticates every non-public call with {@link authenticate} (the step plain HTTP routes take
 * too): `authorization: Bearer <session or API token>` → principal in the context (see
 * {@link principalKey}). Missing/unknown tokens get UNAUTHENTICATED, so a caller cannot probe
 * which tokens exist.
 */
export function createAuthenticateInterceptor(resolver: TokenResolver): Interceptor {
  return (next) => async (req) => {
    const policy = policyFor(req.service.typeName, req.method.name);
    if (policy.public) return next(req);
    req.contextValues.set(principalKey, await authenticate(resolver, req.header.get("authorization")));
    return next(req);
  };
}

/**
 * Enforces each method's minimum role with {@link authorize} (PERMISSION_DENIED). Runs after
 * authentication and auditing.
 */
export function createAuthorizeInterceptor(): Interceptor {
  return (next) => async (req) => {
    authorize(req.contextValues.get(principalKey), policyFor(req.service.typeName, req.method.name), req.method.name);
    return next(req);
  };
}
