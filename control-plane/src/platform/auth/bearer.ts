import type { Interceptor } from "@connectrpc/connect";

/** `Bearer <token>` (RFC 6750 §2.1; the scheme name is case-insensitive): the one pattern every server-side reader uses. */
const bearerCredentials = /^Bearer\s+(\S+)$/i;

/**
 * The token of an `authorization` header value of the form `Bearer <token>`; undefined when the
 * header is missing or empty, names another scheme, or holds anything after the token. Used by
 * every server-side reader of the header (RPC auth, device streams, HTTP routes), so they accept
 * exactly the same headers.
 */
export function parseBearerToken(authorization: string | null | undefined): string | undefined {
  return bearerCredentials.exec(authorization ?? "")?.[1];
}

/** A client interceptor that sends `authorization: Bearer <token>` (session, API or device token) on every call. */
export function bearerToken(token: string): Interceptor {
  return (next) => (request) => {
    request.header.set("authorization", `Bearer ${token}`);
    return next(request);
  };
}
