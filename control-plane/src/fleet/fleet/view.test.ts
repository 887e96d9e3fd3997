import { HealthSchema } from "@avtech/proto/gen/avtech/device/v1/health_pb.js";
import { ConnectionState } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { SyncStatus } from "@avtech/proto/gen/avtech/publish/v1/publish_pb.js";
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { downsampleHealth } from "./health-history.ts";
import { connectionStateOf, emptyStatus, syncStatusOf } from "./view.ts";

describe("screen status", () => {
  const now = new Date("2026-03-02T10:00:00Z");
  const status = (fields: Partial<ReturnType<typeof emptyStatus>>) => ({ ...emptyStatus("s1", 15), ...fields });

  it("is online while the stream is open and a message came within 3 heartbeat intervals", () => {
    expect(connectionStateOf(undefined, now)).toBe(ConnectionState.NEVER_CONNECTED);
    const seen = (ago: number, streamOpen = true) => status({ lastSeenAt: new Date(now.getTime() - ago), streamOpen });
    expect(connectionStateOf(seen(45_000), now)).toBe(ConnectionState.ONLINE);
    expect(connectionStateOf(seen(45_001), now)).toBe(ConnectionState.OFFLINE);
    expect(connectionStateOf(seen(0, false), now)).toBe(ConnectionState.OFFLINE);
  });

  it("is pending until the latest version is acked, failed when the latest version failed", () => {
    expect(syncStatusOf(status({}))).toBe(SyncStatus.UNSPECIFIED);
    expect(syncStatusOf(status({ desiredVersion: 2n, appliedVersion: 1n }))).toBe(SyncStatus.PENDING);
    expect(syncStatusOf(status({ desiredVersion: 2n, appliedVersion: 1n, lastFailedVersion: 1n }))).toBe(
      SyncStatus.PENDING,
    );
    expect(syncStatusOf(status({ desiredVersion: 2n, appliedVersion: 1n, lastFailedVersion: 2n }))).toBe(
      SyncStatus.FAILED,
    );
    expect(syncStatusOf(status({ desiredVersion: 2n, appliedVersion: 2n, lastFailedVersion: 2n }))).toBe(
      SyncStatus.SYNCED,
    );
  });
});

describe("downsampleHealth", () => {
  it("averages samples into at most max_points buckets and leaves gaps empty", () => {
    const from = new Date(0);
    const to = new Date(100_000);
    const sample = (s: number, cpu: number) => ({
      at: new Date(s * 1000),
      health: create(HealthSchema, { cpuLoadPercent: cpu, memoryUsedBytes: 10n }),
    });
    const points = downsampleHealth([sample(1, 10), sample(2, 30), sample(95, 50)], from, to, 4);
    expect(points.map((p) => [Number(p.at?.seconds), p.cpuLoadPercent])).toEqual([
      [0, 20],
      [75, 50],
    ]);
    expect(points[0]?.memoryUsedBytes).toBe(10n);
  });
});
