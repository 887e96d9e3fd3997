import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { type Health, HealthSchema } from "@avtech/proto/gen/avtech/device/v1/health_pb.js";
import { create } from "@bufbuild/protobuf";
import si from "systeminformation";
import type { ProcessRunner } from "../lib/index.ts";

/** Dependencies of {@link HealthSampler}. */
export interface HealthDeps {
  processes: ProcessRunner;
  /** The media folder; its filesystem's usage is reported. */
  mediaDir: string;
  /** Bytes the media cache holds now. */
  mediaBytes: () => number;
  maxMediaBytes: number;
  /** Where DRM connectors are listed; default /sys/class/drm. */
  drmDir?: string;
}

/**
 * Samples the Health message for heartbeats: systeminformation for load, temperature, memory,
 * disk, uptime and addresses; `vcgencmd get_throttled` (Raspberry Pi firmware) and
 * `timedatectl show -p NTPSynchronized` when they exist; DRM connector status for the display.
 * Every probe is best effort: a missing tool or sensor reports 0/false, never fails the heartbeat.
 */
export class HealthSampler {
  readonly #deps: HealthDeps;

  constructor(deps: HealthDeps) {
    this.#deps = deps;
  }

  /** One sample. */
  async sample(): Promise<Health> {
    const { mediaDir } = this.#deps;
    const [load, temp, mem, disks, nets, throttled, synced, display] = await Promise.all([
      si.currentLoad().catch(() => undefined),
      si.cpuTemperature().catch(() => undefined),
      si.mem().catch(() => undefined),
      si.fsSize().catch(() => []),
      si.networkInterfaces().catch(() => []),
      this.throttledFlags(),
      this.clockSynced(),
      displayConnected(this.#deps.drmDir ?? "/sys/class/drm"),
    ]);
    const disk = mountOf(disks, mediaDir);
    const interfaces = Array.isArray(nets) ? nets : [nets];
    return create(HealthSchema, {
      cpuLoadPercent: load?.currentLoad ?? 0,
      cpuTemperatureCelsius: temp?.main ?? 0,
      memoryUsedBytes: BigInt(Math.max(0, Math.round(mem?.active ?? 0))),
      memoryTotalBytes: BigInt(Math.round(mem?.total ?? 0)),
      diskUsedBytes: BigInt(Math.round(disk?.used ?? 0)),
      diskTotalBytes: BigInt(Math.round(disk?.size ?? 0)),
      mediaBytes: BigInt(this.#deps.mediaBytes()),
      mediaQuotaBytes: BigInt(this.#deps.maxMediaBytes),
      uptimeSeconds: BigInt(Math.round(si.time().uptime)),
      ipAddresses: interfaces
        .filter((n) => !n.internal)
        .flatMap((n) => [n.ip4, n.ip6])
        .filter((ip) => ip !== ""),
      throttledFlags: throttled,
      displayConnected: display,
      clockSynced: synced,
      playerRssBytes: BigInt(process.memoryUsage.rss()),
    });
  }

  /** The raw `vcgencmd get_throttled` bits; 0 where vcgencmd does not exist. */
  async throttledFlags(): Promise<number> {
    const run = await this.#deps.processes.run("vcgencmd", ["get_throttled"], { timeoutMs: 2_000 });
    const hex = /throttled=0x([0-9a-f]+)/i.exec(run.stdout)?.[1];
    return run.code === 0 && hex ? Number.parseInt(hex, 16) : 0;
  }

  /** True when systemd reports the clock NTP-synchronised; false when unknown. */
  async clockSynced(): Promise<boolean> {
    const run = await this.#deps.processes.run("timedatectl", ["show", "-p", "NTPSynchronized", "--value"], {
      timeoutMs: 2_000,
    });
    return run.code === 0 && run.stdout.trim() === "yes";
  }
}

/** The filesystem entry whose mount point is the longest prefix of `path`. */
function mountOf<T extends { mount: string }>(disks: readonly T[], path: string): T | undefined {
  let best: T | undefined;
  for (const disk of disks) {
    const mount = disk.mount.endsWith("/") ? disk.mount : `${disk.mount}/`;
    if ((`${path}/`.startsWith(mount) || disk.mount === "/") && (!best || disk.mount.length > best.mount.length)) {
      best = disk;
    }
  }
  return best;
}

/** True when any DRM connector (e.g. card1-HDMI-A-1) reports "connected". */
export async function displayConnected(drmDir: string): Promise<boolean> {
  let entries: string[];
  try {
    entries = await readdir(drmDir);
  } catch {
    return false;
  }
  for (const entry of entries.filter((e) => /^card\d+-/.test(e))) {
    const status = await readFile(join(drmDir, entry, "status"), "utf8").catch(() => "");
    if (status.trim() === "connected") return true;
  }
  return false;
}
