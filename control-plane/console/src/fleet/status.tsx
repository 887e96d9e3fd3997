import { PlaybackState } from "@avtech/proto/gen/avtech/device/v1/health_pb.js";
import { ConnectionState, type Screen } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { SyncStatus } from "@avtech/proto/gen/avtech/publish/v1/publish_pb.js";

/** A screen's connection in words plus a tone for the status colour. */
export function connectionInfo(c: ConnectionState): { label: string; tone: "good" | "bad" | "idle" } {
  switch (c) {
    case ConnectionState.ONLINE:
      return { label: "Online", tone: "good" };
    case ConnectionState.OFFLINE:
      return { label: "Offline", tone: "bad" };
    default:
      return { label: "Never connected", tone: "idle" };
  }
}

/** A sync status in words plus a tone. */
export function syncInfo(s: SyncStatus): { label: string; tone: "good" | "bad" | "warn" | "idle" } {
  switch (s) {
    case SyncStatus.SYNCED:
      return { label: "Synced", tone: "good" };
    case SyncStatus.PENDING:
      return { label: "Pending", tone: "warn" };
    case SyncStatus.FAILED:
      return { label: "Failed", tone: "bad" };
    default:
      return { label: "Not published", tone: "idle" };
  }
}

/** What the screen shows, in words. */
export function playbackLabel(screen: Screen, videoName: (id: string) => string | undefined): string {
  const p = screen.playback;
  if (!p) return "—";
  switch (p.state) {
    case PlaybackState.PLAYING:
      return p.videoId ? (videoName(p.videoId) ?? "Playing") : "Playing";
    case PlaybackState.STANDBY:
      return "Standby";
    case PlaybackState.PAIRING:
      return "Showing pairing code";
    case PlaybackState.DISPLAY_OFF:
      return "Display off";
    case PlaybackState.RECOVERING:
      return "Recovering player";
    default:
      return "—";
  }
}

/** A coloured dot with a text label (colour is never the only signal). */
export function StatusBadge({ label, tone }: { label: string; tone: string }) {
  return <span className={`badge tone-${tone}`}>{label}</span>;
}
