import type { Interceptor } from "@connectrpc/connect";

/** A client interceptor that sends `authorization: Bearer <token>` (session, API or device token) on every call. */
export function bearerToken(token: string): Interceptor {
  return (next) => (request) => {
    request.header.set("authorization", `Bearer ${token}`);
    return next(request);
  };
}
