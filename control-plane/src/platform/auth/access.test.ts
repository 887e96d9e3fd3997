import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { authenticate, authorize, type TokenResolver } from "./access.ts";
import { policyFor } from "./policy.ts";
import type { Principal } from "./principal.ts";

const viewer: Principal = {
  tenantId: "t",
  tenantName: "T",
  role: "viewer",
  actorId: "u",
  actorName: "u@example.com",
  kind: "user",
};
const resolver: TokenResolver = { resolve: async (secret) => (secret === "avs_known" ? viewer : undefined) };

async function failure(promise: Promise<unknown>): Promise<ConnectError> {
  return ConnectError.from(
    await promise.then(
      () => new Error("expected a refusal"),
      (e: unknown) => e,
    ),
  );
}

describe("authenticate", () => {
  it("resolves the bearer token of the header to its principal", async () => {
    expect(await authenticate(resolver, "Bearer avs_known")).toBe(viewer);
  });

  it("refuses a missing or malformed header and an unknown token with UNAUTHENTICATED", async () => {
    for (const header of [undefined, null, "", "Basic dXNlcjpwdw==", "Bearer a b"]) {
      expect(await failure(authenticate(resolver, header))).toMatchObject({
        code: Code.Unauthenticated,
        rawMessage: expect.stringMatching(/^missing credentials/),
      });
    }
    expect(await failure(authenticate(resolver, "Bearer avs_unknown"))).toMatchObject({
      code: Code.Unauthenticated,
      rawMessage: expect.stringMatching(/unknown, expired or revoked/),
    });
  });
});

describe("authorize", () => {
  const upload = policyFor("avtech.content.v1.ContentService", "UploadVideo");

  it("lets a role at or above the policy's minimum through", () => {
    expect(() => authorize({ ...viewer, role: "editor" }, upload, "UploadVideo")).not.toThrow();
    expect(() => authorize({ ...viewer, role: "admin" }, upload, "UploadVideo")).not.toThrow();
  });

  it("refuses a lower role, or no caller, with PERMISSION_DENIED naming the operation and the role", () => {
    expect(() => authorize(viewer, upload, "UploadVideo")).toThrow(
      new ConnectError("UploadVideo needs the editor role; the caller is viewer", Code.PermissionDenied),
    );
    expect(() => authorize(undefined, upload, "UploadVideo")).toThrow(/the caller is anonymous/);
  });

  it("refuses an operation the policy does not declare to everyone, admins included", () => {
    const undeclared = policyFor("avtech.nosuch.v1.NoSuchService", "GetRelease");
    expect(() => authorize({ ...viewer, role: "admin" }, undeclared, "GetRelease")).toThrow(
      new ConnectError(
        "GetRelease has no access rule in the control plane's policy, so it is refused to everyone",
        Code.PermissionDenied,
      ),
    );
  });

  it("lets anyone call a public operation", () => {
    expect(() => authorize(undefined, policyFor("avtech.auth.v1.AuthService", "Login"), "Login")).not.toThrow();
  });
});
