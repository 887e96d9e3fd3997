import { readFile } from "node:fs/promises";
import { Role } from "@avtech/proto/gen/avtech/auth/v1/auth_pb.js";
import { UserService } from "@avtech/proto/gen/avtech/auth/v1/user_pb.js";
import { DeviceService } from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { FleetService } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { ScheduleService } from "@avtech/proto/gen/avtech/schedule/v1/schedule_pb.js";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { inject } from "vitest";
import { startRealControlPlane } from "../lib/real-control-plane.ts";
import { type FakeApi, fakePairingCode, fakePassword, fakeTenant, fakeUsers, startFakeApi } from "./fake-api.ts";

/**
 * What the console's browser flows run against: a server on 127.0.0.1 that serves the built
 * console and the API on one origin, with one tenant, an admin and a viewer who share a password.
 */
export interface ConsoleTarget {
  /** http://127.0.0.1:<port>, the console at `/` and the API next to it. */
  url: string;
  /** The tenant's slug, typed into "Organisation". */
  tenant: string;
  /** Email of a user with the admin role. */
  admin: string;
  /** Email of a user with the viewer role. */
  viewer: string;
  /** Password of both users. */
  password: string;
  /** The fake itself, for the checks that need its data; undefined on the real control plane. */
  fake?: FakeApi;
  /** A pairing code an unclaimed screen shows now (XXXX-XXXX). */
  pairingCode(): Promise<string>;
  close(): Promise<void>;
}

/** Files a target may need, made once per test file. */
export interface TargetFiles {
  /** The built console (console/dist). */
  distDir: string;
  /** A VP9 WebM clip the fake serves as every clip's bytes (Chromium plays it in the preview). */
  webmClip: string;
  /** Two different H.264 MP4 clips (the real server accepts only H.264) to seed the real library. */
  mp4Clips: [string, string];
}

/** The fake control plane (fake-api.ts) with its 10,000 screens, three clips and one playlist. */
export async function startFakeTarget(files: TargetFiles): Promise<ConsoleTarget> {
  const fake = await startFakeApi({ distDir: files.distDir, screenCount: 10_000, clipFile: files.webmClip });
  return {
    url: fake.url,
    tenant: fakeTenant,
    admin: fakeUsers.admin.email,
    viewer: fakeUsers.viewer.email,
    password: fakePassword,
    fake,
    pairingCode: async () => fakePairingCode,
    close: () => fake.close(),
  };
}

/**
 * Screens the real target enrolls: more than a 768 px window shows plus the table's overscan,
 * so "only the visible rows are in the DOM" is checked against the real server too.
 */
export const realScreenCount = 60;

/**
 * The real control plane (startRealControlPlane: PostgreSQL from the run's globalSetup, the
 * server assembled as main.ts assembles it, console dist served by the server itself), seeded
 * only through its public API with the part of the fake's data the shared flows use, under the
 * same names:
 * - an admin and a viewer (UserService.CreateUser);
 * - groups Lobby, Menu boards and Windows (FleetService.CreateGroup);
 * - {@link realScreenCount} screens in Lobby, enrolled by key as players enroll (CreateEnrollmentKey
 *   with the group, then DeviceService.Register over gRPC);
 * - clips "Morning menu" and "Summer sale" (`POST /v1/videos`, the console's own upload endpoint);
 * - playlist "Daytime" with both clips, the default playlist of group Menu boards
 *   (ScheduleService CreatePlaylist, SetDefaultPlaylist).
 */
export async function startRealTarget(files: TargetFiles): Promise<ConsoleTarget> {
  const cp = await startRealControlPlane({ postgresAdminUrl: inject("postgresAdminUrl") });
  const password = "correct horse battery staple";
  const device = createClient(DeviceService, createGrpcTransport({ baseUrl: cp.addresses.http2Url }));
  const facts = { model: "Raspberry Pi 4 Model B Rev 1.5", osVersion: "Debian GNU/Linux 12 (bookworm)" };
  let pairings = 0;
  const target: ConsoleTarget = {
    url: cp.addresses.http1Url,
    tenant: cp.tenant.slug,
    admin: "ada@demo.test",
    viewer: "vic@demo.test",
    password,
    async pairingCode() {
      pairings++;
      const hardwareId = `console-pairing-${String(pairings).padStart(4, "0")}`;
      const { outcome } = await device.register({ hardwareId, facts });
      if (outcome.case !== "pairing") throw new Error(`Register without a key answered ${outcome.case}`);
      return outcome.value.pairingCode;
    },
    close: () => cp.close(),
  };
  try {
    const users = cp.client(UserService, cp.adminToken);
    await users.createUser({ email: target.admin, displayName: "Ada Admin", role: Role.ADMIN, password });
    await users.createUser({ email: target.viewer, displayName: "Vic Viewer", role: Role.VIEWER, password });

    const fleet = cp.client(FleetService, cp.adminToken);
    const groups: Record<string, string> = {};
    for (const name of ["Lobby", "Menu boards", "Windows"]) {
      groups[name] = (await fleet.createGroup({ name })).group?.id ?? "";
    }
    const { enrollmentKey } = await fleet.createEnrollmentKey({ name: "console", groupId: groups.Lobby });
    // A few at a time: each registration hashes a device token.
    for (let first = 1; first <= realScreenCount; first += 10) {
      await Promise.all(
        Array.from({ length: Math.min(10, realScreenCount - first + 1) }, (_, i) =>
          device.register({ hardwareId: `console-${String(first + i).padStart(4, "0")}`, facts, enrollmentKey }),
        ),
      );
    }

    const videoIds: string[] = [];
    for (const [name, path] of [
      ["Morning menu", files.mp4Clips[0]],
      ["Summer sale", files.mp4Clips[1]],
    ] as const) {
      const upload = await fetch(`${target.url}/v1/videos`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${cp.adminToken}`,
          "x-file-name": encodeURIComponent(`${name}.mp4`),
          "content-type": "video/mp4",
        },
        body: await readFile(path),
      });
      if (!upload.ok) throw new Error(`seeding the real library: POST /v1/videos answered ${upload.status}`);
      const { video } = (await upload.json()) as { video: { id: string } };
      videoIds.push(video.id);
    }
    const schedule = cp.client(ScheduleService, cp.adminToken);
    const { playlist } = await schedule.createPlaylist({ name: "Daytime", videoIds });
    await schedule.setDefaultPlaylist({
      target: { kind: { case: "groupId", value: groups["Menu boards"] ?? "" } },
      playlistId: playlist?.id ?? "",
    });
    return target;
  } catch (error) {
    await cp.close();
    throw error;
  }
}
