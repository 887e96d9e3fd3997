import type { Playlist } from "@avtech/proto/gen/avtech/schedule/v1/schedule_pb.js";
import { ScheduleService } from "@avtech/proto/gen/avtech/schedule/v1/schedule_pb.js";
import { useMutation } from "@connectrpc/connect-query";
import { useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { describeError } from "../api/errors.ts";
import { choicesOf, Select } from "../ui/select.tsx";
import { type TargetChoice, targetInit } from "./target.ts";
import { parseMinute } from "./week.ts";

const days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/** Creates a daypart rule for the chosen target. */
export function RuleForm({ target, playlists }: { target: TargetChoice; playlists: readonly Playlist[] }) {
  const queryClient = useQueryClient();
  const create = useMutation(ScheduleService.method.createRule, { onSuccess: () => queryClient.invalidateQueries() });
  const [name, setName] = useState("");
  const [playlistId, setPlaylistId] = useState("");
  const [priority, setPriority] = useState(10);
  const [weekdays, setWeekdays] = useState<number[]>([]);
  const [start, setStart] = useState("");
  const [end, setEnd] = useState("");
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const startMinute = parseMinute(start);
    const endMinute = parseMinute(end);
    create.mutate({
      rule: {
        name: name.trim(),
        target: targetInit(target),
        playlistId,
        priority,
        daysOfWeek: weekdays,
        window: startMinute !== undefined && endMinute !== undefined ? { startMinute, endMinute } : undefined,
        startDate: localDate(from),
        endDate: localDate(to),
        enabled: true,
      },
    });
  };

  return (
    <form className="card form" onSubmit={submit} aria-label="New rule">
      <h2>New daypart</h2>
      <label>
        Name
        <input value={name} onChange={(e) => setName(e.target.value)} placeholder="Breakfast menu" required />
      </label>
      <Select
        label="Playlist"
        value={playlistId}
        empty="Choose…"
        choices={choicesOf(playlists)}
        onChange={setPlaylistId}
        required
      />
      <fieldset className="days">
        <legend>Days (none = every day)</legend>
        {days.map((d, i) => (
          <label key={d} className="check">
            <input
              type="checkbox"
              checked={weekdays.includes(i + 1)}
              onChange={(e) =>
                setWeekdays((w) => (e.target.checked ? [...w, i + 1].sort() : w.filter((x) => x !== i + 1)))
              }
            />
            {d}
          </label>
        ))}
      </fieldset>
      <div className="row">
        <label>
          From
          <input type="time" value={start} onChange={(e) => setStart(e.target.value)} />
        </label>
        <label>
          To
          <input type="time" value={end} onChange={(e) => setEnd(e.target.value)} />
        </label>
        <label>
          Priority
          <input type="number" value={priority} onChange={(e) => setPriority(Number(e.target.value))} />
        </label>
      </div>
      <div className="row">
        <label>
          First day
          <input type="date" value={from} onChange={(e) => setFrom(e.target.value)} />
        </label>
        <label>
          Last day
          <input type="date" value={to} onChange={(e) => setTo(e.target.value)} />
        </label>
      </div>
      {create.error && (
        <p className="error" role="alert">
          {describeError(create.error)}
        </p>
      )}
      <div className="actions">
        <button type="submit" className="primary" disabled={create.isPending}>
          Add rule
        </button>
      </div>
    </form>
  );
}

function localDate(value: string): { year: number; month: number; day: number } | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  return m ? { year: Number(m[1]), month: Number(m[2]), day: Number(m[3]) } : undefined;
}
