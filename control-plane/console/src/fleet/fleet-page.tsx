import { ContentService } from "@avtech/proto/gen/avtech/content/v1/content_pb.js";
import { ConnectionState, FleetService, type Screen } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { SyncStatus } from "@avtech/proto/gen/avtech/publish/v1/publish_pb.js";
import { useQuery } from "@connectrpc/connect-query";
import { useVirtualizer } from "@tanstack/react-virtual";
import { memo, useDeferredValue, useMemo, useRef, useState } from "react";
import { OpenAlertsBadge } from "../alerts/alerts-page.tsx";
import { useApi } from "../api/api-context.tsx";
import { canEdit, isAdmin } from "../api/session.ts";
import { formatAgo } from "../ui/format.ts";
import { href } from "../ui/router.ts";
import { Select } from "../ui/select.tsx";
import { useNow, useThrottled } from "../ui/timing.ts";
import { EnrollmentKeysDialog } from "./enrollment-keys.tsx";
import type { FleetView } from "./fleet-store.ts";
import { GroupsDialog } from "./groups-dialog.tsx";
import { PairScreenDialog } from "./pair-screen.tsx";
import { connectionInfo, playbackLabel, StatusBadge, syncInfo } from "./status.tsx";
import { useFleetTags, useFleetView } from "./use-fleet.ts";

/** Filters of the fleet table. Empty strings mean "any". */
interface Filters {
  query: string;
  connection: string;
  sync: string;
  groupId: string;
  tag: string;
}

const rowHeight = 52;

const connectionChoices = [
  { value: String(ConnectionState.ONLINE), label: "Online" },
  { value: String(ConnectionState.OFFLINE), label: "Offline" },
  { value: String(ConnectionState.NEVER_CONNECTED), label: "Never connected" },
];

const syncChoices = [
  { value: String(SyncStatus.SYNCED), label: "Synced" },
  { value: String(SyncStatus.PENDING), label: "Pending" },
  { value: String(SyncStatus.FAILED), label: "Failed" },
];

/** The live fleet table: every screen, filterable, virtualised for 10,000+ rows. */
export function FleetPage() {
  const { principal } = useApi();
  const view = useFleetView();
  const [filters, setFilters] = useState<Filters>({ query: "", connection: "", sync: "", groupId: "", tag: "" });
  const deferredFilters = useDeferredValue(filters);
  const [pairing, setPairing] = useState(false);
  const [groupsOpen, setGroupsOpen] = useState(false);
  const [keysOpen, setKeysOpen] = useState(false);
  const groups = useQuery(FleetService.method.listGroups, {});
  const videos = useQuery(ContentService.method.listVideos, { pageSize: 1000 });
  const videoNames = useMemo(() => new Map(videos.data?.videos.map((v) => [v.id, v.name])), [videos.data]);
  const groupNames = useMemo(() => new Map(groups.data?.groups.map((g) => [g.id, g.name])), [groups.data]);
  const tags = useFleetTags(view);
  // Which rows match (and the counts) is recomputed at most twice a second: a full pass over
  // 10,000 screens on every frame was the largest cost under a 2,000 upserts/s stream. The rows
  // themselves read the live Map, so their contents stay current every frame.
  const slowView = useThrottled(view, 500);
  const { ids, counts } = useMemo(() => filterScreens(slowView, deferredFilters), [slowView, deferredFilters]);

  const set = (patch: Partial<Filters>) => setFilters((f) => ({ ...f, ...patch }));

  return (
    <section className="fleet" aria-labelledby="fleet-title">
      <div className="page-head">
        <div>
          <h1 id="fleet-title">Screens</h1>
          <p className="sub" aria-live="polite">
            {view.ready ? (
              <>
                <strong>{view.order.length.toLocaleString()}</strong> screens ·{" "}
                <span className="tone-text-good">{counts.online.toLocaleString()} online</span> ·{" "}
                <span className="tone-text-bad">{counts.offline.toLocaleString()} offline</span> ·{" "}
                <span className="tone-text-bad">{counts.failed.toLocaleString()} sync failed</span> <OpenAlertsBadge />
              </>
            ) : (
              "Loading the fleet…"
            )}
          </p>
        </div>
        {canEdit(principal) && (
          <div className="button-row">
            <button type="button" onClick={() => setGroupsOpen(true)}>
              Groups
            </button>
            {isAdmin(principal) && (
              <button type="button" onClick={() => setKeysOpen(true)}>
                Enrollment keys
              </button>
            )}
            <button type="button" className="primary" onClick={() => setPairing(true)}>
              Add screen
            </button>
          </div>
        )}
      </div>
      {groupsOpen && <GroupsDialog onClose={() => setGroupsOpen(false)} />}
      {keysOpen && <EnrollmentKeysDialog groups={groups.data?.groups ?? []} onClose={() => setKeysOpen(false)} />}
      {pairing && <PairScreenDialog groups={groups.data?.groups ?? []} onClose={() => setPairing(false)} />}
      <search className="filters">
        <label className="grow">
          <span className="visually-hidden">Search screens</span>
          <input
            type="search"
            placeholder="Search name, hardware id or tag"
            value={filters.query}
            onChange={(e) => set({ query: e.target.value })}
          />
        </label>
        <Select
          label="Connection"
          hideLabel
          value={filters.connection}
          empty="Any connection"
          choices={connectionChoices}
          onChange={(connection) => set({ connection })}
        />
        <Select
          label="Sync status"
          hideLabel
          value={filters.sync}
          empty="Any sync status"
          choices={syncChoices}
          onChange={(sync) => set({ sync })}
        />
        <Select
          label="Group"
          hideLabel
          value={filters.groupId}
          empty="All groups"
          choices={(groups.data?.groups ?? []).map((g) => ({ value: g.id, label: `${g.name} (${g.screenCount})` }))}
          onChange={(groupId) => set({ groupId })}
        />
        <Select
          label="Tag"
          hideLabel
          value={filters.tag}
          empty="All tags"
          choices={tags.map((t) => ({ value: t, label: t }))}
          onChange={(tag) => set({ tag })}
        />
      </search>
      <FleetTable ids={ids} screens={view.screens} videoNames={videoNames} groupNames={groupNames} />
    </section>
  );
}

function FleetTable(props: {
  ids: readonly string[];
  screens: ReadonlyMap<string, Screen>;
  videoNames: ReadonlyMap<string, string>;
  groupNames: ReadonlyMap<string, string>;
}) {
  const scrollRef = useRef<HTMLTableSectionElement>(null);
  const virtualizer = useVirtualizer({
    count: props.ids.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => rowHeight,
    overscan: 8,
  });
  const now = useNow(10_000);
  return (
    <table className="table fleet-table" aria-label="Screens" aria-rowcount={props.ids.length + 1}>
      <thead className="thead">
        <tr className="tr" aria-rowindex={1}>
          {["Screen", "Connection", "Sync", "Now playing", "Temp", "Disk", "Last seen", "Versions"].map((h) => (
            <th key={h} scope="col" className="th">
              {h}
            </th>
          ))}
        </tr>
      </thead>
      <tbody className="tbody" ref={scrollRef} data-testid="fleet-rows">
        {props.ids.length === 0 && (
          <tr className="empty-row">
            <td className="empty">No screens match.</td>
          </tr>
        )}
        <tr className="spacer" style={{ height: virtualizer.getTotalSize() }} />
        {virtualizer.getVirtualItems().map((item) => {
          const screen = props.screens.get(props.ids[item.index] ?? "");
          if (!screen) return null;
          return (
            <FleetRow
              key={screen.id}
              screen={screen}
              index={item.index}
              top={item.start}
              now={now}
              videoNames={props.videoNames}
              groupNames={props.groupNames}
            />
          );
        })}
      </tbody>
    </table>
  );
}

/** One row; memoised, so a frame re-renders only the rows whose screen object changed. */
const FleetRow = memo(function FleetRow(props: {
  screen: Screen;
  index: number;
  top: number;
  now: number;
  videoNames: ReadonlyMap<string, string>;
  groupNames: ReadonlyMap<string, string>;
}) {
  const s = props.screen;
  const h = s.lastHealth;
  const conn = connectionInfo(s.connection);
  const sync = syncInfo(s.syncStatus);
  const diskPercent = h && h.diskTotalBytes > 0n ? Number((h.diskUsedBytes * 100n) / h.diskTotalBytes) : undefined;
  const temp = h?.cpuTemperatureCelsius;
  return (
    <tr
      className="tr"
      aria-rowindex={props.index + 2}
      style={{ transform: `translateY(${props.top}px)`, height: rowHeight }}
    >
      <td className="td name">
        <a href={href("screens", s.id)}>{s.name || s.hardwareId}</a>
        <span className="muted small">
          {[props.groupNames.get(s.groupId), ...s.tags].filter(Boolean).join(" · ") || s.hardwareId}
        </span>
      </td>
      <td className="td">
        <StatusBadge {...conn} />
      </td>
      <td className="td" title={s.lastSyncError || undefined}>
        <StatusBadge {...sync} />
      </td>
      <td className="td ellipsis">{playbackLabel(s, (id) => props.videoNames.get(id))}</td>
      <td className={`td num ${temp !== undefined && temp >= 75 ? "tone-text-bad" : ""}`}>
        {temp !== undefined && temp > 0 ? `${temp.toFixed(0)} °C` : "—"}
      </td>
      <td className={`td num ${diskPercent !== undefined && diskPercent >= 90 ? "tone-text-bad" : ""}`}>
        {diskPercent !== undefined ? `${diskPercent}%` : "—"}
      </td>
      <td className="td muted">{formatAgo(s.lastSeenAt, props.now)}</td>
      <td className="td muted small">
        v{s.appliedVersion.toString()}/{s.desiredVersion.toString()} · {s.playerVersion || "—"}
      </td>
    </tr>
  );
});

function filterScreens(view: FleetView, f: Filters) {
  const query = f.query.trim().toLowerCase();
  const connection = f.connection === "" ? undefined : Number(f.connection);
  const sync = f.sync === "" ? undefined : Number(f.sync);
  const counts = { online: 0, offline: 0, failed: 0 };
  const ids: string[] = [];
  for (const id of view.order) {
    const s = view.screens.get(id);
    if (!s) continue;
    if (s.connection === ConnectionState.ONLINE) counts.online++;
    else if (s.connection === ConnectionState.OFFLINE) counts.offline++;
    if (s.syncStatus === SyncStatus.FAILED) counts.failed++;
    if (connection !== undefined && s.connection !== connection) continue;
    if (sync !== undefined && s.syncStatus !== sync) continue;
    if (f.groupId && s.groupId !== f.groupId) continue;
    if (f.tag && !s.tags.includes(f.tag)) continue;
    if (
      query &&
      !s.name.toLowerCase().includes(query) &&
      !s.hardwareId.toLowerCase().includes(query) &&
      !s.tags.some((t) => t.includes(query))
    ) {
      continue;
    }
    ids.push(id);
  }
  return { ids, counts };
}
