import { EnrollmentKeyState, FleetService } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createRouterTransport } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { createEnrollmentKey, listEnrollmentKeys, revokeEnrollmentKey } from "./index.ts";

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

describe("listEnrollmentKeys and revokeEnrollmentKey", () => {
  const created = new Date("2026-11-24T08:30:00Z");
  const revokedAt = new Date("2026-11-24T09:00:00Z");
  const transport = createRouterTransport(({ service }) => {
    service(FleetService, {
      listEnrollmentKeys(_request, context) {
        if (context.requestHeader.get("authorization") !== "Bearer good-token") {
          throw new ConnectError("role viewer", Code.PermissionDenied);
        }
        return {
          keys: [
            {
              id: "ek_2",
              name: "Lyon",
              maxUses: 5,
              uses: 5,
              createdAt: timestampFromDate(created),
              state: EnrollmentKeyState.USED_UP,
            },
            { id: "ek_1", name: "Old", createdAt: timestampFromDate(created), state: 99 as EnrollmentKeyState }, // from a newer control plane
          ],
        };
      },
      revokeEnrollmentKey(request) {
        if (request.id !== "ek_1")
          throw new ConnectError(`no enrollment key ${request.id} in your tenant`, Code.NotFound);
        return {
          key: {
            id: "ek_1",
            name: "Old",
            createdAt: timestampFromDate(created),
            revokedAt: timestampFromDate(revokedAt),
            state: EnrollmentKeyState.REVOKED,
          },
        };
      },
    });
  });

  it("lists keys in the server's order with dates, named states and unknown states kept", async () => {
    expect(await listEnrollmentKeys(transport, "good-token")).toEqual([
      {
        id: "ek_2",
        name: "Lyon",
        groupId: "",
        state: "used_up",
        uses: 5,
        maxUses: 5,
        expiresAt: undefined,
        createdAt: created,
        revokedAt: undefined,
      },
      expect.objectContaining({ id: "ek_1", state: "unknown" }),
    ]);
  });

  it("revokes by id and returns the key as it is now", async () => {
    expect(await revokeEnrollmentKey(transport, "good-token", "ek_1")).toMatchObject({ state: "revoked", revokedAt });
  });

  it("names the action a non-admin token may not do, and says where the ids are", async () => {
    await expect(listEnrollmentKeys(transport, "viewer-token")).rejects.toThrow(
      "the API token may not list enrollment keys: it needs the admin role",
    );
    await expect(revokeEnrollmentKey(transport, "t", "nope")).rejects.toThrow(
      "no enrollment key nope in your tenant: list-enrollment-keys shows the ids",
    );
  });
});
