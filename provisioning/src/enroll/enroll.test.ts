import { FleetService } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createRouterTransport } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { createEnrollmentKey } from "./index.ts";

function fakeControlPlane(seen: { authorization: string | null; name: string; maxUses: number; expires?: Date }[]) {
  return createRouterTransport(({ service }) => {
    service(FleetService, {
      createEnrollmentKey(request, context) {
        const authorization = context.requestHeader.get("authorization");
        if (authorization !== "Bearer good-token") throw new ConnectError("bad token", Code.Unauthenticated);
        seen.push({
          authorization,
          name: request.name,
          maxUses: request.maxUses,
          ...(request.expiresAt === undefined ? {} : { expires: timestampDate(request.expiresAt) }),
        });
        return { id: "ek_1", enrollmentKey: "secret-1" };
      },
    });
  });
}

describe("createEnrollmentKey", () => {
  it("sends the API token as a bearer token and returns the secret", async () => {
    const seen: Parameters<typeof fakeControlPlane>[0] = [];
    const expiresAt = new Date("2030-01-01T00:00:00Z");
    const key = await createEnrollmentKey(fakeControlPlane(seen), "good-token", {
      name: "Madrid 12",
      groupId: "",
      maxUses: 10,
      expiresAt,
    });
    expect(key).toEqual({ id: "ek_1", secret: "secret-1" });
    expect(seen).toEqual([{ authorization: "Bearer good-token", name: "Madrid 12", maxUses: 10, expires: expiresAt }]);
  });

  it("explains a refused token", async () => {
    await expect(
      createEnrollmentKey(fakeControlPlane([]), "wrong", { name: "x", groupId: "", maxUses: 0, expiresAt: undefined }),
    ).rejects.toThrow(/API token was refused: create one in the console/);
  });

  it("explains a missing admin role", async () => {
    const transport = createRouterTransport(({ service }) => {
      service(FleetService, {
        createEnrollmentKey() {
          throw new ConnectError("role editor", Code.PermissionDenied);
        },
      });
    });
    await expect(
      createEnrollmentKey(transport, "t", { name: "x", groupId: "", maxUses: 0, expiresAt: undefined }),
    ).rejects.toThrow(/needs the admin role/);
  });
});
