import { ScreenSettingsSchema } from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import { ConnectionState, type Screen, ScreenSchema } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { SyncStatus } from "@avtech/proto/gen/avtech/publish/v1/publish_pb.js";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ScreenRecord, ScreenStatus, ScreenStatusStore, ScreenStore } from "./ports.ts";

/** A screen counts as offline after this many heartbeat intervals without a message. */
export const missedHeartbeatsForOffline = 3;

/** ONLINE while a stream is open and a message arrived within 3 heartbeat intervals. */
export function connectionStateOf(status: ScreenStatus | undefined, now: Date): ConnectionState {
  if (!status?.lastSeenAt) return ConnectionState.NEVER_CONNECTED;
  const silentMs = now.getTime() - status.lastSeenAt.getTime();
  return status.streamOpen && silentMs <= missedHeartbeatsForOffline * status.heartbeatIntervalSeconds * 1000
    ? ConnectionState.ONLINE
    : ConnectionState.OFFLINE;
}

/** Where the screen stands with its latest desired version. */
export function syncStatusOf(status: ScreenStatus | undefined): SyncStatus {
  if (!status || status.desiredVersion === 0n) return SyncStatus.UNSPECIFIED;
  if (status.appliedVersion >= status.desiredVersion) return SyncStatus.SYNCED;
  if (status.lastFailedVersion === status.desiredVersion) return SyncStatus.FAILED;
  return SyncStatus.PENDING;
}

/** The etag UpdateScreen checks: the screen's revision. */
export function screenEtag(screen: Pick<ScreenRecord, "revision">): string {
  return `r${screen.revision}`;
}

/** The revision an etag names, or undefined when it is not one this server issued. */
export function revisionOfEtag(etag: string): number | undefined {
  const match = /^r(\d{1,15})$/.exec(etag);
  return match ? Number(match[1]) : undefined;
}

/** The fleet view of one screen: the stored record joined with its live status. */
export function screenView(screen: ScreenRecord, status: ScreenStatus | undefined, now: Date): Screen {
  const syncStatus = syncStatusOf(status);
  return create(ScreenSchema, {
    id: screen.id,
    name: screen.name,
    hardwareId: screen.hardwareId,
    groupId: screen.groupId,
    tags: [...screen.tags],
    settings: create(ScreenSettingsSchema, {
      timezone: screen.timezone,
      volumePercent: screen.volumePercent,
      orientation: screen.orientation,
      displayHours: [...screen.displayHours],
      screenName: screen.name,
    }),
    connection: connectionStateOf(status, now),
    lastSeenAt: status?.lastSeenAt ? timestampFromDate(status.lastSeenAt) : undefined,
    desiredVersion: status?.desiredVersion ?? 0n,
    appliedVersion: status?.appliedVersion ?? 0n,
    syncStatus,
    lastSyncError: syncStatus === SyncStatus.FAILED ? (status?.lastSyncError ?? "") : "",
    lastHealth: status?.lastHealth,
    playback: status?.playback,
    playerVersion: screen.playerVersion,
    osVersion: screen.osVersion,
    ipAddress: status?.ipAddress ?? "",
    firstSeenAt: timestampFromDate(screen.firstSeenAt),
    claimedAt: timestampFromDate(screen.claimedAt),
    model: screen.model,
    etag: screenEtag(screen),
    imageVersion: status?.imageVersion ?? "",
    bootedSlot: status?.bootedSlot ?? "",
  });
}

/** A status row for a screen nothing is known about yet. */
export function emptyStatus(screenId: string, heartbeatIntervalSeconds: number): ScreenStatus {
  return {
    screenId,
    lastSeenAt: undefined,
    heartbeatIntervalSeconds,
    streamOpen: false,
    ipAddress: "",
    desiredVersion: 0n,
    appliedVersion: 0n,
    desiredAt: undefined,
    lastSyncError: "",
    lastFailedVersion: 0n,
    lastHealth: undefined,
    playback: undefined,
    imageVersion: "",
    bootedSlot: "",
  };
}

/** The views of the tenant's screens among `ids` (ids of other tenants or deleted screens are skipped). */
export async function loadScreenViews(
  stores: { screens: ScreenStore; statuses: ScreenStatusStore },
  tenantId: string,
  ids: readonly string[],
  now: Date,
): Promise<Screen[]> {
  const [statuses, screens] = await Promise.all([stores.statuses.getMany(ids), stores.screens.getMany(tenantId, ids)]);
  return ids.flatMap((id) => {
    const screen = screens.get(id);
    return screen ? [screenView(screen, statuses.get(id), now)] : [];
  });
}
