import {
  type DisplayHours,
  DisplayHoursSchema,
  type Orientation,
} from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import { fromJson, type JsonValue, toJson } from "@bufbuild/protobuf";

/**
 * The JSON in `screens.settings` (the `Screen` entity's `settings` column): written by the fleet's
 * screen store (src/fleet/pg/screens.ts), read by it and by the publish sources
 * (src/core/schedule/publish-sources.ts). It lives beside the entity because both sides read it.
 */
export interface StoredSettings {
  volumePercent?: number;
  orientation?: number;
  /** Proto JSON of DisplayHours messages. */
  displayHours?: JsonValue[];
}

/** The screen fields kept in `screens.settings` (the same fields of the fleet's `ScreenRecord`). */
export interface ScreenSettings {
  volumePercent: number;
  orientation: Orientation;
  displayHours: DisplayHours[];
}

/**
 * Reads `screens.settings`: the one decoder for the fleet store and the publish sources, so a
 * missing key means the same default (full volume, landscape, always on) on both paths.
 */
export function decodeScreenSettings(stored: StoredSettings | null): ScreenSettings {
  return {
    volumePercent: stored?.volumePercent ?? 100,
    orientation: (stored?.orientation ?? 0) as Orientation,
    displayHours: (stored?.displayHours ?? []).map((json) => fromJson(DisplayHoursSchema, json)),
  };
}

/** What {@link decodeScreenSettings} reads back. */
export function encodeScreenSettings(screen: ScreenSettings): StoredSettings {
  return {
    volumePercent: screen.volumePercent,
    orientation: screen.orientation,
    displayHours: screen.displayHours.map((hours) => toJson(DisplayHoursSchema, hours)),
  };
}
