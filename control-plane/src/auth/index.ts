export { bearerToken, parseBearerToken } from "./bearer.ts";
export type { TokenResolver } from "./interceptor.ts";
export { createAuthenticateInterceptor, createAuthorizeInterceptor } from "./interceptor.ts";
export type { MethodPolicy } from "./policy.ts";
export { policyFor } from "./policy.ts";
export type { Principal } from "./principal.ts";
export { principalKey, principalOf, roleAtLeast, roleFromProto, roleToProto } from "./principal.ts";
export { decoyPasswordHash, hashPassword, hashSecret, newSecret, verifyPassword } from "./secrets.ts";
export { createDbTokenResolver } from "./token-resolver.ts";
