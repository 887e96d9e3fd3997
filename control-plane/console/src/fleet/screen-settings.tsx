import { Orientation } from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import { FleetService, type Screen } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { useMutation, useQuery } from "@connectrpc/connect-query";
import { useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { describeError } from "../api/errors.ts";
import { choicesOf, Select } from "../ui/select.tsx";

const orientationChoices = [
  { value: String(Orientation.LANDSCAPE), label: "Landscape" },
  { value: String(Orientation.PORTRAIT), label: "Portrait" },
  { value: String(Orientation.LANDSCAPE_FLIPPED), label: "Landscape, flipped" },
  { value: String(Orientation.PORTRAIT_FLIPPED), label: "Portrait, flipped" },
];

/**
 * Edits a screen's name, group, tags and settings (UpdateScreen with the etag it was based on;
 * ABORTED, shown in words, when someone else changed the screen meanwhile).
 */
export function ScreenSettingsForm({ screen }: { screen: Screen }) {
  const queryClient = useQueryClient();
  const groups = useQuery(FleetService.method.listGroups, {});
  const update = useMutation(FleetService.method.updateScreen, { onSuccess: () => queryClient.invalidateQueries() });
  const [name, setName] = useState(screen.name);
  const [groupId, setGroupId] = useState(screen.groupId);
  const [tags, setTags] = useState(screen.tags.join(", "));
  const [timezone, setTimezone] = useState(screen.settings?.timezone ?? "");
  const [volume, setVolume] = useState(screen.settings?.volumePercent ?? 100);
  const [orientation, setOrientation] = useState<Orientation>(screen.settings?.orientation || Orientation.LANDSCAPE);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    update.mutate({
      id: screen.id,
      etag: screen.etag,
      name: name.trim(),
      groupId,
      tags: tags
        .split(",")
        .map((t) => t.trim().toLowerCase())
        .filter(Boolean),
      settings: {
        timezone: timezone.trim(),
        volumePercent: volume,
        orientation,
        displayHours: screen.settings?.displayHours ?? [],
      },
    });
  };

  return (
    <form className="card form" onSubmit={submit} aria-label="Screen settings">
      <h2>Settings</h2>
      <div className="row">
        <label>
          Name
          <input value={name} onChange={(e) => setName(e.target.value)} maxLength={200} required />
        </label>
        <Select
          label="Group"
          value={groupId}
          empty="No group"
          choices={choicesOf(groups.data?.groups)}
          onChange={setGroupId}
        />
      </div>
      <label>
        Tags <span className="muted small">(comma separated)</span>
        <input value={tags} onChange={(e) => setTags(e.target.value)} />
      </label>
      <div className="row">
        <label>
          Time zone
          <input value={timezone} onChange={(e) => setTimezone(e.target.value)} placeholder="Europe/Madrid" />
        </label>
        <label>
          Volume ({volume}%)
          <input type="range" min={0} max={100} value={volume} onChange={(e) => setVolume(Number(e.target.value))} />
        </label>
        <Select
          label="Orientation"
          value={String(orientation)}
          choices={orientationChoices}
          onChange={(value) => setOrientation(Number(value) as Orientation)}
        />
      </div>
      {update.error && (
        <p className="error" role="alert">
          {describeError(update.error)}
        </p>
      )}
      {update.isSuccess && <p className="muted small">Saved. Settings reach the screen with the next publish.</p>}
      <div className="actions">
        <button type="submit" className="primary" disabled={update.isPending}>
          Save settings
        </button>
      </div>
    </form>
  );
}
