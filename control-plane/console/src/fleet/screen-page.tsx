import { ContentService } from "@avtech/proto/gen/avtech/content/v1/content_pb.js";
import { CommandKind, CommandStatus } from "@avtech/proto/gen/avtech/device/v1/command_pb.js";
import { type CommandRecord, FleetService, type HealthPoint } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { useMutation, useQuery } from "@connectrpc/connect-query";
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useMemo, useState } from "react";
import { ScreenAlertHistory } from "../alerts/alerts-page.tsx";
import { useApi } from "../api/api-context.tsx";
import { describeError } from "../api/errors.ts";
import { canEdit } from "../api/session.ts";
import { formatAgo, formatBytes, formatDateTime } from "../ui/format.ts";
import { href } from "../ui/router.ts";
import { ScreenUpdateHistory } from "../updates/updates-page.tsx";
import { HealthChart, type HealthSeries } from "./health-chart.tsx";
import { ScreenSettingsForm } from "./screen-settings.tsx";
import { connectionInfo, playbackLabel, StatusBadge, syncInfo } from "./status.tsx";
import { useFleetView } from "./use-fleet.ts";

const charts: HealthSeries[] = [
  { label: "CPU temperature", unit: "°", color: "#e5484d", value: (p) => p.cpuTemperatureCelsius },
  { label: "CPU load", unit: "%", color: "#3e63dd", value: (p) => p.cpuLoadPercent },
  {
    label: "Disk used",
    unit: " GB",
    color: "#12a594",
    value: (p) => Math.round((Number(p.diskUsedBytes) / 1024 ** 3) * 10) / 10,
  },
];

const commands: { kind: CommandKind; label: string; confirm?: string }[] = [
  { kind: CommandKind.IDENTIFY, label: "Identify" },
  { kind: CommandKind.SCREENSHOT, label: "Screenshot" },
  { kind: CommandKind.RESYNC, label: "Resync" },
  { kind: CommandKind.RESTART_PLAYER, label: "Restart player", confirm: "Restart the player? Playback stops briefly." },
  { kind: CommandKind.REBOOT, label: "Reboot", confirm: "Reboot the screen? It is dark for about a minute." },
];

/** One screen: live status, 24 h health charts, commands with their results, and screenshots. */
export function ScreenPage({ screenId }: { screenId: string }) {
  const { principal } = useApi();
  const view = useFleetView();
  const live = view.screens.get(screenId);
  const fetched = useQuery(FleetService.method.getScreen, { id: screenId }, { enabled: view.ready && !live });
  const screen = live ?? fetched.data?.screen;
  // Refresh the 24 h window every minute; the server buckets it into at most 288 points.
  const history = useQuery(
    FleetService.method.getHealthHistory,
    { screenId, maxPoints: 288 },
    { refetchInterval: 60_000 },
  );
  const points = useMemo<readonly HealthPoint[]>(() => history.data?.points ?? [], [history.data]);
  const videos = useQuery(ContentService.method.listVideos, { pageSize: 1000 });
  const videoNames = useMemo(() => new Map(videos.data?.videos.map((v) => [v.id, v.name])), [videos.data]);

  if (!screen) {
    return (
      <section>
        <a href={href("fleet")}>← All screens</a>
        <p className={fetched.error ? "error" : "muted"}>
          {fetched.error ? describeError(fetched.error) : "Loading the screen…"}
        </p>
      </section>
    );
  }
  const h = screen.lastHealth;
  return (
    <section aria-labelledby="screen-title">
      <a href={href("fleet")} className="back">
        ← All screens
      </a>
      <div className="page-head">
        <div>
          <h1 id="screen-title">{screen.name}</h1>
          <p className="sub">
            <StatusBadge {...connectionInfo(screen.connection)} /> <StatusBadge {...syncInfo(screen.syncStatus)} />{" "}
            <span className="muted">last seen {formatAgo(screen.lastSeenAt)}</span>
          </p>
          {screen.lastSyncError && <p className="error">{screen.lastSyncError}</p>}
        </div>
      </div>
      <div className="cards">
        <dl className="card facts">
          <dt>Now playing</dt>
          <dd>{playbackLabel(screen, (id) => videoNames.get(id))}</dd>
          <dt>Temperature</dt>
          <dd>{h ? `${h.cpuTemperatureCelsius.toFixed(1)} °C` : "—"}</dd>
          <dt>Disk</dt>
          <dd>{h ? `${formatBytes(h.diskUsedBytes)} of ${formatBytes(h.diskTotalBytes)}` : "—"}</dd>
          <dt>Version</dt>
          <dd>
            applied v{screen.appliedVersion.toString()} · desired v{screen.desiredVersion.toString()}
          </dd>
          <dt>Player / OS</dt>
          <dd>
            {screen.playerVersion || "—"} / {screen.osVersion || "—"}
          </dd>
          <dt>OS image</dt>
          <dd>
            {screen.imageVersion || "—"}
            {screen.bootedSlot && <span className="muted"> (slot {screen.bootedSlot})</span>}
          </dd>
          <dt>Hardware</dt>
          <dd>
            {screen.model || "—"} · {screen.hardwareId}
          </dd>
          <dt>IP address</dt>
          <dd>{screen.ipAddress || "—"}</dd>
          <dt>Tags</dt>
          <dd>{screen.tags.join(", ") || "—"}</dd>
        </dl>
        {canEdit(principal) && <Commands screenId={screen.id} />}
      </div>
      {canEdit(principal) && <ScreenSettingsForm key={screen.etag} screen={screen} />}
      <h2>Last 24 hours</h2>
      {history.error && <p className="error">{describeError(history.error)}</p>}
      <div className="charts">
        {charts.map((c) => (
          <HealthChart key={c.label} points={points} series={c} />
        ))}
      </div>
      <ScreenAlertHistory screenId={screen.id} />
      <CommandHistory screenId={screen.id} />
      <ScreenUpdateHistory screenId={screen.id} />
    </section>
  );
}

function Commands({ screenId }: { screenId: string }) {
  const queryClient = useQueryClient();
  const send = useMutation(FleetService.method.sendCommand, {
    onSuccess: () => queryClient.invalidateQueries(),
  });
  return (
    <div className="card">
      <h2>Commands</h2>
      <div className="button-row">
        {commands.map((c) => (
          <button
            key={c.kind}
            type="button"
            disabled={send.isPending}
            onClick={() => {
              if (!c.confirm || window.confirm(c.confirm)) send.mutate({ screenIds: [screenId], kind: c.kind });
            }}
          >
            {c.label}
          </button>
        ))}
      </div>
      {send.error && (
        <p className="error" role="alert">
          {describeError(send.error)}
        </p>
      )}
      {send.isSuccess && <p className="muted small">Sent. Offline screens get it when they reconnect.</p>}
    </div>
  );
}

const statusLabels: Record<CommandStatus, string> = {
  [CommandStatus.UNSPECIFIED]: "—",
  [CommandStatus.QUEUED]: "Queued",
  [CommandStatus.DELIVERED]: "Delivered",
  [CommandStatus.SUCCEEDED]: "Done",
  [CommandStatus.FAILED]: "Failed",
  [CommandStatus.EXPIRED]: "Expired",
};

function CommandHistory({ screenId }: { screenId: string }) {
  const list = useQuery(FleetService.method.listCommands, { screenId, limit: 20 }, { refetchInterval: 5_000 });
  const latestShot = list.data?.commands.find((c) => c.hasScreenshot);
  return (
    <div className="cards">
      <div className="card">
        <h2>Recent commands</h2>
        <ul className="plain-list">
          {list.data?.commands.map((c) => (
            <CommandRow key={c.command?.commandId} record={c} />
          ))}
        </ul>
        {list.data?.commands.length === 0 && <p className="muted">No commands sent yet.</p>}
      </div>
      <div className="card">
        <h2>Screenshot</h2>
        {latestShot?.command ? (
          <Screenshot commandId={latestShot.command.commandId} />
        ) : (
          <p className="muted">Send “Screenshot” to see what the screen shows.</p>
        )}
      </div>
    </div>
  );
}

function CommandRow({ record }: { record: CommandRecord }) {
  const kind = commands.find((c) => c.kind === record.command?.kind)?.label ?? "Command";
  return (
    <li>
      <strong>{kind}</strong> <span className="muted">{formatDateTime(record.command?.issuedAt)}</span> ·{" "}
      <span className={record.status === CommandStatus.FAILED ? "tone-text-bad" : ""}>
        {statusLabels[record.status]}
      </span>
      {record.resultMessage && <span className="muted"> — {record.resultMessage}</span>}
    </li>
  );
}

function Screenshot({ commandId }: { commandId: string }) {
  const shot = useQuery(FleetService.method.getScreenshot, { commandId }, { staleTime: Number.POSITIVE_INFINITY });
  const [url, setUrl] = useState<string>();
  useEffect(() => {
    const png = shot.data?.png;
    if (!png || png.length === 0) return;
    const objectUrl = URL.createObjectURL(new Blob([png.slice()], { type: "image/png" }));
    setUrl(objectUrl);
    return () => URL.revokeObjectURL(objectUrl);
  }, [shot.data]);
  if (shot.error) return <p className="error">{describeError(shot.error)}</p>;
  return url ? (
    <figure className="screenshot">
      <img src={url} alt="What the screen showed" />
      <figcaption className="muted small">Taken {formatDateTime(shot.data?.takenAt)}</figcaption>
    </figure>
  ) : (
    <p className="muted">Loading…</p>
  );
}
