import { evaluateSchedule } from "@avtech/proto";
import { type DefaultPlaylist, type Rule, ScheduleService } from "@avtech/proto/gen/avtech/schedule/v1/schedule_pb.js";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { useMutation, useQuery } from "@connectrpc/connect-query";
import { useQueryClient } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { useApi } from "../api/api-context.tsx";
import { describeError } from "../api/errors.ts";
import { canEdit } from "../api/session.ts";
import { useFleetView } from "../fleet/use-fleet.ts";
import { choicesOf, Select } from "../ui/select.tsx";
import { RuleForm } from "./rule-form.tsx";
import { sameTarget, type TargetChoice, targetInit, targetSelects } from "./target.ts";
import { TargetPicker } from "./target-picker.tsx";
import { minuteLabel, weekBlocks } from "./week.ts";

const dayNames = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const palette = ["#3e63dd", "#12a594", "#e54666", "#f76b15", "#8e4ec6", "#0090ff", "#30a46c", "#d6409f"];

/** Schedules: a week of dayparts per target, the default playlist, and "what plays when". */
export function SchedulesPage() {
  const { principal } = useApi();
  const [target, setTarget] = useState<TargetChoice>({ kind: "wholeTenant", value: "true" });
  const rules = useQuery(ScheduleService.method.listRules, {});
  const playlists = useQuery(ScheduleService.method.listPlaylists, {});
  const defaults = useQuery(ScheduleService.method.listDefaultPlaylists, {});
  const defaultOf = useMemo(() => defaultsByTarget(defaults.data?.defaults ?? []), [defaults.data]);
  const playlistName = useMemo(() => {
    const names = new Map(playlists.data?.playlists.map((p) => [p.id, p.name]));
    return (id: string) => names.get(id) ?? "Unknown playlist";
  }, [playlists.data]);
  const shown = useMemo(
    () => (rules.data?.rules ?? []).filter((r) => sameTarget(r.target, target)),
    [rules.data, target],
  );
  const colorOf = (rule: Rule) => palette[(rules.data?.rules.indexOf(rule) ?? 0) % palette.length] ?? "#3e63dd";
  const editor = canEdit(principal);

  return (
    <section aria-labelledby="schedules-title">
      <div className="page-head">
        <h1 id="schedules-title">Schedules</h1>
      </div>
      <TargetPicker value={target} onChange={setTarget} />
      {rules.error && <p className="error">{describeError(rules.error)}</p>}
      <figure className="week" aria-label="Week of dayparts">
        <div className="week-hours" aria-hidden="true">
          {Array.from({ length: 25 }, (_, h) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: hours are fixed positions.
            <span key={h} style={{ top: `${(h / 24) * 100}%` }}>
              {h % 3 === 0 ? `${String(h).padStart(2, "0")}:00` : ""}
            </span>
          ))}
        </div>
        {dayNames.map((day, i) => (
          <div key={day} className="week-day">
            <div className="week-day-name">{day}</div>
            <div className="week-day-body">
              {weekBlocks(shown)
                .filter((b) => b.day === i + 1)
                .map((b) => (
                  <div
                    key={`${b.rule.id}-${b.startMinute}`}
                    className={`week-block ${b.rule.enabled ? "" : "disabled"}`}
                    style={{
                      top: `${(b.startMinute / 1440) * 100}%`,
                      height: `${((b.endMinute - b.startMinute) / 1440) * 100}%`,
                      background: colorOf(b.rule),
                      zIndex: 10 + b.rule.priority,
                    }}
                    title={`${b.rule.name}: ${playlistName(b.rule.playlistId)}, ${minuteLabel(b.startMinute)}–${minuteLabel(b.endMinute)}, priority ${b.rule.priority}`}
                  >
                    <span className="ellipsis">{b.rule.name}</span>
                  </div>
                ))}
            </div>
          </div>
        ))}
      </figure>
      <RuleList rules={shown} playlistName={playlistName} colorOf={colorOf} editor={editor} />
      <DefaultPlaylists defaults={defaults.data?.defaults} error={defaults.error} />
      {editor && target.value !== "" && (
        <div className="cards">
          <RuleForm target={target} playlists={playlists.data?.playlists ?? []} />
          {(target.kind === "wholeTenant" || target.kind === "groupId") && (
            <DefaultPlaylistForm
              // A new target starts from its own saved default, not from the last target's choice.
              key={`${target.kind}:${target.value}`}
              target={target}
              current={defaults.data ? (defaultOf(target)?.playlistId ?? "") : undefined}
              tenantDefault={defaultOf({ kind: "wholeTenant", value: "true" })}
              playlists={playlists.data?.playlists ?? []}
            />
          )}
        </div>
      )}
      <WhatPlays rules={rules.data?.rules ?? []} playlistName={playlistName} defaultOf={defaultOf} />
    </section>
  );
}

function RuleList(props: {
  rules: readonly Rule[];
  playlistName: (id: string) => string;
  colorOf: (r: Rule) => string;
  editor: boolean;
}) {
  const queryClient = useQueryClient();
  const done = { onSuccess: () => queryClient.invalidateQueries() };
  const update = useMutation(ScheduleService.method.updateRule, done);
  const remove = useMutation(ScheduleService.method.deleteRule, done);
  const error = update.error ?? remove.error;
  if (props.rules.length === 0) return <p className="muted">No rules for this target.</p>;
  return (
    <div className="card">
      <h2>Rules, highest priority first</h2>
      {error && <p className="error">{describeError(error)}</p>}
      <ul className="plain-list rules">
        {props.rules.map((r) => (
          <li key={r.id}>
            <span className="swatch" style={{ background: props.colorOf(r) }} aria-hidden="true" />
            <strong>{r.name}</strong> → {props.playlistName(r.playlistId)}
            <span className="muted">
              {" "}
              · priority {r.priority} · {dateRange(r)} ·{" "}
              {r.window ? `${minuteLabel(r.window.startMinute)}–${minuteLabel(r.window.endMinute)}` : "all day"}
              {r.enabled ? "" : " · disabled"}
            </span>
            {props.editor && (
              <span className="button-row">
                <button type="button" onClick={() => update.mutate({ rule: { ...r, enabled: !r.enabled } })}>
                  {r.enabled ? "Disable" : "Enable"}
                </button>
                <button
                  type="button"
                  className="danger"
                  onClick={() => window.confirm(`Delete the rule “${r.name}”?`) && remove.mutate({ id: r.id })}
                >
                  Delete
                </button>
              </span>
            )}
          </li>
        ))}
      </ul>
    </div>
  );
}

function dateRange(r: Rule): string {
  const d = (x: Rule["startDate"]) =>
    x ? `${x.year}-${String(x.month).padStart(2, "0")}-${String(x.day).padStart(2, "0")}` : undefined;
  const from = d(r.startDate);
  const to = d(r.endDate);
  if (!from && !to) return "always";
  return `${from ?? "…"} to ${to ?? "…"}`;
}

/** Looks up the default set for exactly a target (the tenant or one group); undefined = none of its own. */
type DefaultOf = (target: TargetChoice) => DefaultPlaylist | undefined;

/** "wholeTenant" or "groupId:<id>": a default's target as a map key. */
function defaultKey(d: DefaultPlaylist): string {
  const kind = d.target?.kind;
  return kind?.case === "groupId" ? `groupId:${kind.value}` : "wholeTenant";
}

function defaultsByTarget(defaults: readonly DefaultPlaylist[]): DefaultOf {
  const byKey = new Map(defaults.map((d) => [defaultKey(d), d]));
  return (target) => byKey.get(target.kind === "wholeTenant" ? "wholeTenant" : `${target.kind}:${target.value}`);
}

/** The defaults in force now: the one for every screen and each group's own, as ListDefaultPlaylists returns them. */
function DefaultPlaylists({ defaults, error }: { defaults: readonly DefaultPlaylist[] | undefined; error: unknown }) {
  const tenant = defaults?.find((d) => d.target?.kind.case === "wholeTenant");
  const groups = defaults?.filter((d) => d.target?.kind.case === "groupId") ?? [];
  return (
    <div className="card">
      <h2>Default playlists</h2>
      <p className="muted small">
        What plays when no rule is active. A group without its own default plays the one for every screen.
      </p>
      {error ? (
        <p className="error">{describeError(error)}</p>
      ) : !defaults ? (
        <p className="muted">Loading…</p>
      ) : (
        <ul className="plain-list" aria-label="Default playlists">
          <li>
            <strong>Every screen</strong> → {tenant ? tenant.playlistName : "Standby slate (none)"}
          </li>
          {groups.map((d) => (
            <li key={defaultKey(d)}>
              <strong>Group {d.groupName}</strong> → {d.playlistName}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/**
 * Sets the default of the chosen target, starting from the saved one (`current`; undefined while
 * it loads). After a save the list is refetched and the control shows the saved value again.
 */
function DefaultPlaylistForm(props: {
  target: TargetChoice;
  current: string | undefined;
  tenantDefault: DefaultPlaylist | undefined;
  playlists: readonly { id: string; name: string }[];
}) {
  const queryClient = useQueryClient();
  const [draft, setDraft] = useState<string>();
  const set = useMutation(ScheduleService.method.setDefaultPlaylist, {
    onSuccess: async () => {
      await queryClient.invalidateQueries();
      setDraft(undefined);
    },
  });
  const playlistId = draft ?? props.current ?? "";
  const group = props.target.kind === "groupId";
  // A group with no default of its own falls back to the tenant's, so "none" means that there.
  const fallback = group
    ? `Same as every screen (${props.tenantDefault?.playlistName ?? "standby slate"})`
    : "Standby slate (none)";
  return (
    <form
      className="card form"
      aria-label="Default playlist"
      onSubmit={(e) => {
        e.preventDefault();
        set.mutate({ target: targetInit(props.target), playlistId });
      }}
    >
      <h2>Default playlist</h2>
      <p className="muted small">
        {group
          ? "Plays on this group's screens when no rule is active."
          : "Plays when no rule is active. Empty = the standby slate."}
      </p>
      <Select
        label="Playlist"
        value={playlistId}
        empty={fallback}
        choices={choicesOf(props.playlists)}
        onChange={setDraft}
        disabled={props.current === undefined}
      />
      {set.error && <p className="error">{describeError(set.error)}</p>}
      {set.isSuccess && <p className="muted small">Saved. Publish to send it to screens.</p>}
      <div className="actions">
        <button type="submit" className="primary" disabled={set.isPending || props.current === undefined}>
          Set default
        </button>
      </div>
    </form>
  );
}

/**
 * "What plays on screen X at time T": evaluated at once in the browser with the same
 * evaluateSchedule the player runs (over the draft rules that select the screen), and confirmed
 * by the server's PreviewSchedule, which also knows the default playlists.
 */
function WhatPlays({
  rules,
  playlistName,
  defaultOf,
}: {
  rules: readonly Rule[];
  playlistName: (id: string) => string;
  defaultOf: DefaultOf;
}) {
  const view = useFleetView();
  const [query, setQuery] = useState("");
  const [screenId, setScreenId] = useState("");
  const [at, setAt] = useState(() => toLocalInput(new Date()));
  const screen = view.screens.get(screenId);
  const matches = useMemo(() => {
    const q = query.trim().toLowerCase();
    if (!q) return [];
    const found = [];
    for (const id of view.order) {
      const s = view.screens.get(id);
      if (s?.name.toLowerCase().includes(q)) found.push(s);
      if (found.length >= 8) break;
    }
    return found;
  }, [query, view]);
  const whenMs = new Date(at).getTime();
  const valid = !Number.isNaN(whenMs);
  const server = useQuery(
    ScheduleService.method.previewSchedule,
    { screenId, at: valid ? timestampFromDate(new Date(whenMs)) : undefined },
    { enabled: screenId !== "" && valid },
  );
  const local = useMemo(() => {
    if (!screen || !valid) return undefined;
    const timezone = screen.settings?.timezone || Intl.DateTimeFormat().resolvedOptions().timeZone;
    const applicable = rules
      .filter((r) => r.enabled && targetSelects(r.target, screen))
      .map((r) => ({ ...r, daysOfWeek: r.daysOfWeek.map(Number) }));
    // The screen's group's own default wins over the tenant's, as on the server and the player.
    const fallback =
      (screen.groupId ? defaultOf({ kind: "groupId", value: screen.groupId }) : undefined) ??
      defaultOf({ kind: "wholeTenant", value: "true" });
    return evaluateSchedule(
      { rules: applicable, defaultPlaylistId: fallback?.playlistId ?? "", timezone },
      new Date(whenMs),
    );
  }, [screen, rules, valid, whenMs, defaultOf]);

  return (
    <div className="card">
      <h2>What plays on a screen at a time?</h2>
      <div className="inline-form">
        <label className="grow">
          Screen
          <input
            value={query}
            onChange={(e) => setQuery(e.target.value)}
            placeholder="Type a screen name"
            list="what-plays-screens"
          />
          <datalist id="what-plays-screens">
            {matches.map((s) => (
              <option key={s.id} value={s.name} />
            ))}
          </datalist>
        </label>
        <label>
          At
          <input type="datetime-local" value={at} onChange={(e) => setAt(e.target.value)} />
        </label>
        <button
          type="button"
          onClick={() => setScreenId(matches.find((s) => s.name === query)?.id ?? matches[0]?.id ?? "")}
        >
          Check
        </button>
      </div>
      {screen && local && (
        <div className="answer" aria-live="polite">
          <p>
            <strong>{screen.name}</strong>:{" "}
            {local.ruleId
              ? `${playlistName(local.playlistId ?? "")} (rule “${rules.find((r) => r.id === local.ruleId)?.name ?? ""}”)`
              : local.playlistId
                ? `${playlistName(local.playlistId)} (no rule is active: the default playlist)`
                : "no rule is active and no default is set — the standby slate shows"}
            <span className="muted"> · next change {local.nextChangeAt.toLocaleString()}</span>
          </p>
          <p className="muted small">
            Server preview:{" "}
            {server.error
              ? describeError(server.error)
              : server.data
                ? server.data.playlistId
                  ? playlistName(server.data.playlistId)
                  : "standby slate"
                : "asking…"}
            {server.data?.nextChangeAt && ` · next change ${timestampDate(server.data.nextChangeAt).toLocaleString()}`}
          </p>
        </div>
      )}
    </div>
  );
}

function toLocalInput(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
