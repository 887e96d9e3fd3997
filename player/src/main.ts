import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { PlaybackState } from "@avtech/proto/gen/avtech/device/v1/health_pb.js";
import type { Transport } from "@connectrpc/connect";
import type { Logger } from "pino";
import packageJson from "../package.json" with { type: "json" };
import {
  AssetCache,
  createHttpGetter,
  type HttpGetter,
  PlayTimes,
  type SpaceProbe,
  statfsProbe,
} from "./assets/index.ts";
import type { PlayerConfig } from "./config/index.ts";
import { HealthSampler, readIdentity } from "./health/index.ts";
import { type Clock, execRunner, type ProcessRunner, systemClock, type TimerHandle } from "./lib/index.ts";
import { createControlPlaneTransport, Link, PlayEventBuffer, type ReconnectOptions } from "./link/index.ts";
import {
  createDisplayPower,
  createMpvPlayback,
  createSystemdNotifier,
  type DisplayPower,
  nodeCommandRunner,
  type Playback,
  playbackRuntimeDir,
  startNotifySocketSender,
  startWatchdogLoop,
} from "./playback/index.ts";
import { Reconciler, StateStore, type SyncReporter } from "./reconcile/index.ts";
import { ScheduleTimer, screenTimeZone } from "./schedule/index.ts";
import { writeStatus } from "./status/index.ts";
import { prepareLayout, stateLayout } from "./storage/index.ts";
import {
  confirmRunningSlot,
  createRaucCli,
  type HealthProbe,
  playbackClipBoundaries,
  playingByDesign,
  type Rauc,
  type Rebooter,
  readImageVersion,
  requestFileRebooter,
  UpdateManager,
  UpdateStore,
} from "./update/index.ts";

/** The player's version (package.json), reported in Hello and `status`. */
export const playerVersion: string = packageJson.version;

/** How often the status file for `avtech-player status` is rewritten. */
export const statusIntervalMs = 5_000;

/** Real dependencies are the defaults; tests replace some (conventions rule 10). */
export interface PlayerDeps {
  logger: Logger;
  /** Default: mpv via createMpvPlayback with the config's [mpv] and [watchdog] sections. */
  playback?: Playback;
  /** Default: `vcgencmd display_power` where it exists (Raspberry Pi), otherwise the display-off slate only. */
  displayPower?: DisplayPower;
  /** Default: gRPC over HTTP/2 to control_plane_url with PINGs every 30 s. */
  transport?: Transport;
  http?: HttpGetter;
  space?: SpaceProbe;
  clock?: Clock;
  processes?: ProcessRunner;
  /** Ends the process (RESTART_PLAYER); default process.exit. */
  exit?: (code: number) => void;
  /** The process environment, for systemd's NOTIFY_SOCKET and WATCHDOG_USEC; default none (no systemd). */
  env?: NodeJS.ProcessEnv;
  /** Reconnect timing; default the fleet rules (random first delay ≤ 5 s, 1 s → 5 min, stable after 20 s). */
  reconnect?: ReconnectOptions;
  /** Default: the `rauc` command line (RAUC's service over the system D-Bus). */
  rauc?: Rauc;
  /** Default: `systemctl reboot`. */
  rebooter?: Rebooter;
  /** The image's version when RAUC has none for the booted slot; default readImageVersion (/etc/avtech/os-release). */
  imageVersion?: () => Promise<string>;
}

/** A running player. */
export interface RunningPlayer {
  reconciler: Reconciler;
  link: Link;
  updates: UpdateManager;
  /**
   * Stops the link, the reconciler and mpv, then stores the proof of play and play times not yet
   * on disk (the clip cut by the stop included). Resolves when that is done and nothing of the
   * player's is left to keep the process alive; the control plane is not waited for (it may be gone).
   */
  stop(): Promise<void>;
}

/**
 * Wires the real player: plays the last good state from disk first (before any network), then
 * registers and holds the control-plane stream, converging on every desired state it receives.
 */
export async function startPlayer(config: PlayerConfig, deps: PlayerDeps): Promise<RunningPlayer> {
  const { logger } = deps;
  const clock = deps.clock ?? systemClock;
  const processes = deps.processes ?? execRunner;
  const layout = stateLayout(config.dataDir, config.mediaDir);
  await prepareLayout(layout);
  const ca = config.caCertPath ? await readFile(config.caCertPath, "utf8") : undefined;
  const identity = await readIdentity(playerVersion);
  const startedAt = clock.now();

  const playback =
    deps.playback ??
    createMpvPlayback({
      runtimeDir: playbackRuntimeDir(config.dataDir),
      extraArgs: [`--vo=${config.mpv.vo}`, `--audio-device=${config.mpv.audioDevice}`, ...config.mpv.extraArgs],
      hwdec: config.mpv.hwdec,
      volume: config.mpv.volume,
      rotation: config.displayRotation,
      logger: logger.child({ module: "playback" }),
      clock,
      watchdog: {
        ipcTimeoutMs: config.watchdog.mpvIpcTimeoutMs,
        startTimeoutMs: config.watchdog.mpvStartTimeoutMs,
        stallMs: config.watchdog.mpvStallMs,
      },
    });
  const abort = new AbortController();
  await playback.start(abort.signal);

  const cache = new AssetCache(layout.mediaDir, deps.space ?? statfsProbe);
  const playTimes = new PlayTimes(layout.playTimesFile, clock);
  const playEvents = new PlayEventBuffer({ dir: layout.playEventsDir, logger });
  await playEvents.load();
  const stopRecording = playback.onPlayRecord((record) => {
    playTimes.touch(record.assetSha256, record.startedAt);
    playEvents.add(record);
  });
  const timer = new ScheduleTimer({
    playback,
    media: cache,
    clock,
    logger: logger.child({ module: "schedule" }),
    timezoneOverride: config.timezone,
    displayPower: deps.displayPower ?? createDisplayPower({ runner: nodeCommandRunner, logger }),
  });

  let link: Link | undefined;
  // The link reports for the reconciler and the reconciler applies for the link: bind late.
  const reporter: SyncReporter = {
    applied: (version, at) => link?.applied(version, at),
    failed: (version, failure, attempt) => link?.failed(version, failure, attempt),
  };
  const controlPlane = new URL(`${config.controlPlaneUrl}/`);
  const http = deps.http ?? createHttpGetter(ca ? { ca } : {});
  const resolveUrl = (url: string) => new URL(url, controlPlane);
  // The device token goes only to the control plane's own origin, never to a CDN or S3 URL.
  const controlPlaneHeaders = (url: URL): Record<string, string> => {
    const token = link?.deviceToken();
    return token && url.origin === controlPlane.origin ? { authorization: `Bearer ${token}` } : {};
  };
  const space = deps.space ?? statfsProbe;

  const rebooter = deps.rebooter ?? requestFileRebooter(layout.rebootRequestFile);
  const rauc = deps.rauc ?? createRaucCli();
  const health: HealthProbe = {
    registered: () => link?.deviceToken() !== undefined,
    streamUp: () => link?.status().state === "connected",
    playing: () => playingByDesign(playback),
    lastLinkError: () => link?.status().lastError,
  };
  const updates = new UpdateManager({
    rauc,
    rebooter,
    health,
    clips: playbackClipBoundaries(playback, clock),
    store: new UpdateStore(`${layout.updateDir}/update.json`),
    dir: layout.updateDir,
    space,
    http,
    resolveUrl,
    headers: controlPlaneHeaders,
    reporter: { updateReport: (report) => link?.updateReport(report) },
    clock,
    logger: logger.child({ module: "update" }),
    bootId: identity.bootId,
    imageVersionFallback: deps.imageVersion ?? (() => readImageVersion()),
    timezoneOf: (state) => screenTimeZone(state, config.timezone),
    options: {
      healthDeadlineMs: config.update.healthDeadlineSeconds * 1000,
      rebootAfterFailedGate: config.update.rebootAfterFailedGate,
      reserveBytes: config.minFreeBytes,
    },
  });
  await updates.open();
  const reconciler = new Reconciler({
    cache,
    playTimes,
    store: new StateStore(layout.lastGoodFile),
    player: timer,
    reporter,
    http,
    clock,
    logger: logger.child({ module: "reconcile" }),
    limits: { maxMediaBytes: config.maxMediaBytes, minFreeBytes: config.minFreeBytes },
    resolveUrl,
    assetHeaders: controlPlaneHeaders,
    appliedListener: { applied: (state) => void updates.setDesired(state) },
  });
  await reconciler.boot();
  if (!reconciler.applied)
    await playback.showSlate({ kind: "connecting", message: "Connecting to the control plane…" });

  link = new Link({
    transport: deps.transport ?? createControlPlaneTransport({ baseUrl: config.controlPlaneUrl, ca }),
    enrollment: config.enrollment,
    tokenFile: layout.tokenFile,
    hardwareId: identity.hardwareId,
    facts: identity.facts,
    bootId: identity.bootId,
    startedAt,
    reconciler,
    playback,
    health: new HealthSampler({
      processes,
      mediaDir: layout.mediaDir,
      mediaBytes: () => cache.mediaBytes(),
      maxMediaBytes: config.maxMediaBytes,
    }),
    playEvents,
    rebooter,
    exit: deps.exit ?? ((code) => process.exit(code)),
    clock,
    logger: logger.child({ module: "link" }),
    heartbeatIntervalSeconds: config.heartbeatIntervalSeconds,
    tmpDir: tmpdir(),
    ...(deps.reconnect ? { reconnect: deps.reconnect } : {}),
    os: () => updates.facts(),
  });
  const running = link.run(abort.signal);
  // An installed update (reboot moment, health gate) goes on even before any desired state arrives.
  void updates.runNow();
  const slotConfirmed = confirmRunningSlot(
    {
      rauc,
      health,
      awaitsUpdateGate: (status) => updates.awaitsGateOn(status.booted),
      clock,
      logger: logger.child({ module: "update" }),
    },
    abort.signal,
  ).catch((error: unknown) => logger.error({ err: error }, "marking the running slot good failed"));

  const notifySocket = deps.env?.NOTIFY_SOCKET;
  const notifySender = notifySocket
    ? startNotifySocketSender({
        socket: notifySocket,
        logger: logger.child({ module: "systemd" }),
        fallback: (assignment) => nodeCommandRunner.run("systemd-notify", [assignment], { env: deps.env }),
      })
    : undefined;
  const notifier = createSystemdNotifier({
    spawn: nodeCommandRunner,
    env: deps.env ?? {},
    ...(notifySender ? { sender: notifySender } : {}),
  });
  await notifier.ready();
  const watchdogUsec = Number(deps.env?.WATCHDOG_USEC ?? 0);
  let loopBeat = performance.now();
  const stopWatchdog = startWatchdogLoop({
    notifier,
    // The event loop is healthy when the status timer below keeps running on time.
    healthy: [() => playback.healthy(), () => performance.now() - loopBeat < statusIntervalMs * 4],
    intervalMs: watchdogUsec > 0 ? watchdogUsec / 2000 : 10_000,
    clock,
    logger,
  });

  let statusTimer: TimerHandle | undefined;
  let stopping = false;
  const writeStatusNow = async () => {
    loopBeat = performance.now();
    const l = link?.status();
    const r = reconciler.status();
    const p = playback.status();
    const space = await cache.space().catch(() => ({ freeBytes: 0, totalBytes: 0 }));
    await writeStatus(layout.statusFile, {
      writtenAt: clock.now().toISOString(),
      pid: process.pid,
      playerVersion,
      startedAt: startedAt.toISOString(),
      link: {
        state: l?.state ?? "starting",
        since: l?.since ?? startedAt.toISOString(),
        deviceId: l?.deviceId,
        screenName: l?.screenName,
        lastError: l?.lastError,
        clockSkewMs: l?.clockSkewMs,
        attempt: l?.attempt ?? 0,
      },
      reconcile: r,
      schedule: timer.snapshot,
      playback: {
        state: PlaybackState[p.state] ?? String(p.state),
        playlistId: p.playlistId,
        assetSha256: p.assetSha256,
        healthy: playback.healthy(),
      },
      media: {
        cachedAssets: cache.verifiedCount,
        mediaBytes: cache.mediaBytes(),
        maxMediaBytes: config.maxMediaBytes,
        freeBytes: space.freeBytes,
        minFreeBytes: config.minFreeBytes,
      },
      pendingPlayBatches: playEvents.pendingBatches,
      update: updates.status(),
    }).catch((error: unknown) => logger.warn({ err: error }, "cannot write the status file"));
    // A write in flight when stop() cancelled the timer must not arm it again (the process would never exit).
    if (!stopping) statusTimer = clock.setTimeout(() => void writeStatusNow(), statusIntervalMs);
  };
  await writeStatusNow();
  logger.info({ version: playerVersion, applied: reconciler.appliedVersion.toString() }, "player started");

  return {
    reconciler,
    link,
    updates,
    async stop() {
      stopping = true;
      abort.abort();
      statusTimer?.cancel();
      stopWatchdog();
      notifySender?.close();
      timer.stop();
      await running;
      await slotConfirmed;
      await updates.stop();
      await reconciler.stop();
      // mpv reports the clip it was showing as interrupted when it quits, so playback stops before
      // proof of play is stored: a record arriving after the last seal would be lost, and its
      // play-times touch would arm the 30 s coalesced write that keeps the process alive.
      try {
        await playback.stop();
      } finally {
        stopRecording();
        await playEvents.seal().catch((error: unknown) => logger.error({ err: error }, "cannot store play events"));
        await playTimes.flush().catch((error: unknown) => logger.warn({ err: error }, "cannot store play times"));
      }
    },
  };
}
