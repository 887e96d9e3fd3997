import type { Principal } from "@avtech/proto/gen/avtech/auth/v1/auth_pb.js";
import { Role } from "@avtech/proto/gen/avtech/auth/v1/auth_pb.js";

/** Where the session token lives. sessionStorage: one tab's sign-in ends when the tab closes. */
export interface TokenStore {
  get(): string | undefined;
  set(token: string): void;
  clear(): void;
}

const tokenKey = "avtech.session";

/** A {@link TokenStore} over `storage` (the browser's sessionStorage by default). */
export function createTokenStore(storage: Storage = window.sessionStorage): TokenStore {
  return {
    get: () => storage.getItem(tokenKey) ?? undefined,
    set: (token) => storage.setItem(tokenKey, token),
    clear: () => storage.removeItem(tokenKey),
  };
}

/** True when the principal may change content, schedules, publishing and screens. */
export function canEdit(principal: Principal | undefined): boolean {
  return principal !== undefined && (principal.role === Role.EDITOR || principal.role === Role.ADMIN);
}

/** True when the principal may manage users and API tokens. */
export function isAdmin(principal: Principal | undefined): boolean {
  return principal?.role === Role.ADMIN;
}

/** A role in words, for badges and selects. */
export function roleLabel(role: Role): string {
  switch (role) {
    case Role.ADMIN:
      return "Admin";
    case Role.EDITOR:
      return "Editor";
    case Role.VIEWER:
      return "Viewer";
    default:
      return "No role";
  }
}
