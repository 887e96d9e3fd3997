import { randomUUID } from "node:crypto";
import type { RegisterRequest } from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { Orientation } from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import type { ScreenRecord } from "./ports.ts";

/** What a claim (FleetService) or an enrollment (DeviceService) knows about a new screen. */
export interface NewScreenFields {
  tenantId: string;
  hardwareId: string;
  name: string;
  groupId: string;
  tags?: string[];
  /** The screen's IANA time zone: the claim's, or the fleet's default. */
  timezone: string;
  facts: RegisterRequest["facts"];
  now: Date;
  tokenHash: string | undefined;
  /** When the board first registered; `now` when unset. */
  firstSeenAt?: Date;
}

/**
 * A new screen record with defaults for everything the claim or key does not say (full volume,
 * landscape, always on, revision 1) and a fresh id.
 */
export function newScreen(fields: NewScreenFields): ScreenRecord {
  return {
    id: randomUUID(),
    tenantId: fields.tenantId,
    hardwareId: fields.hardwareId,
    name: fields.name,
    groupId: fields.groupId,
    tags: fields.tags ?? [],
    timezone: fields.timezone,
    volumePercent: 100,
    orientation: Orientation.LANDSCAPE,
    displayHours: [],
    model: fields.facts?.model ?? "",
    osVersion: fields.facts?.osVersion ?? "",
    playerVersion: fields.facts?.playerVersion ?? "",
    firstSeenAt: fields.firstSeenAt ?? fields.now,
    claimedAt: fields.now,
    tokenHash: fields.tokenHash,
    revision: 1,
  };
}
