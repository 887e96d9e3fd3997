import { FleetService } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { useQuery } from "@connectrpc/connect-query";
import { useMemo } from "react";
import { useFleetTags, useFleetView } from "../fleet/use-fleet.ts";
import { choicesOf, Select } from "../ui/select.tsx";
import type { TargetChoice } from "./target.ts";

/** Chooses a target: every screen, a group, a tag or one screen (by name). */
export function TargetPicker({ value, onChange }: { value: TargetChoice; onChange: (t: TargetChoice) => void }) {
  const groups = useQuery(FleetService.method.listGroups, {});
  const view = useFleetView();
  const tags = useFleetTags(view);
  const screenName = value.kind === "screenId" ? (view.screens.get(value.value)?.name ?? "") : "";
  return (
    <div className="filters">
      <label>
        Target
        <select
          value={value.kind}
          onChange={(e) => {
            const kind = e.target.value as TargetChoice["kind"];
            onChange({ kind, value: kind === "wholeTenant" ? "true" : "" });
          }}
        >
          <option value="wholeTenant">Every screen</option>
          <option value="groupId">A group</option>
          <option value="tag">A tag</option>
          <option value="screenId">One screen</option>
        </select>
      </label>
      {value.kind === "groupId" && (
        <Select
          label="Group"
          value={value.value}
          empty="Choose…"
          choices={choicesOf(groups.data?.groups)}
          onChange={(id) => onChange({ kind: "groupId", value: id })}
        />
      )}
      {value.kind === "tag" && (
        <Select
          label="Tag"
          value={value.value}
          empty="Choose…"
          choices={tags.map((t) => ({ value: t, label: t }))}
          onChange={(tag) => onChange({ kind: "tag", value: tag })}
        />
      )}
      {value.kind === "screenId" && <ScreenField selectedName={screenName} onChange={onChange} />}
    </div>
  );
}

function ScreenField({ selectedName, onChange }: { selectedName: string; onChange: (t: TargetChoice) => void }) {
  const view = useFleetView();
  return (
    <label>
      Screen name
      <input
        list="target-screens"
        defaultValue={selectedName}
        placeholder="Type a screen name"
        onChange={(e) => {
          const name = e.target.value;
          const id = view.order.find((i) => view.screens.get(i)?.name === name);
          onChange({ kind: "screenId", value: id ?? "" });
        }}
      />
      <ScreenOptions />
    </label>
  );
}

/** Up to 200 screen names for the datalist; typing narrows them in the browser. */
function ScreenOptions() {
  const view = useFleetView();
  // biome-ignore lint/correctness/useExhaustiveDependencies: names change only when view.order does.
  const names = useMemo(() => view.order.slice(0, 200).map((id) => view.screens.get(id)?.name ?? ""), [view.order]);
  return (
    <datalist id="target-screens">
      {names.map((n) => (
        <option key={n} value={n} />
      ))}
    </datalist>
  );
}
