import type { Screen } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import type { Target } from "@avtech/proto/gen/avtech/schedule/v1/schedule_pb.js";

/** The oneof of a Target, as plain data for forms and comparisons. */
export type TargetKind = NonNullable<Target["kind"]["case"]>;

/** A target as `{kind, value}` with a string value ("true" for the whole tenant). */
export interface TargetChoice {
  kind: TargetKind;
  value: string;
}

/** Builds the message init for a choice. */
export function targetInit(choice: TargetChoice): { kind: Target["kind"] } {
  switch (choice.kind) {
    case "wholeTenant":
      return { kind: { case: "wholeTenant", value: true } };
    case "screenId":
      return { kind: { case: "screenId", value: choice.value } };
    case "groupId":
      return { kind: { case: "groupId", value: choice.value } };
    case "tag":
      return { kind: { case: "tag", value: choice.value } };
  }
}

/** True when `target` is exactly `choice`. */
export function sameTarget(target: Target | undefined, choice: TargetChoice): boolean {
  const k = target?.kind;
  if (!k?.case || k.case !== choice.kind) return false;
  return k.case === "wholeTenant" ? true : k.value === choice.value;
}

/** True when `target` selects `screen` (the rules that apply to it, before priorities). */
export function targetSelects(target: Target | undefined, screen: Screen): boolean {
  const k = target?.kind;
  switch (k?.case) {
    case "wholeTenant":
      return true;
    case "screenId":
      return k.value === screen.id;
    case "groupId":
      return k.value !== "" && k.value === screen.groupId;
    case "tag":
      return screen.tags.includes(k.value);
    default:
      return false;
  }
}
