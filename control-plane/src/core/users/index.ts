export { createAuthService, principalToProto } from "./auth-service.ts";
export { createUserService } from "./user-service.ts";
