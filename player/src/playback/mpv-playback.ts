import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  PlaybackState,
  type PlaybackStatus,
  PlaybackStatusSchema,
} from "@avtech/proto/gen/avtech/device/v1/health_pb.js";
import { create } from "@bufbuild/protobuf";
import type { Logger } from "pino";
import { type Clock, systemClock, type TimerHandle } from "../lib/index.ts";
import { mpvArgs } from "./args.ts";
import { createMpvIpc, type MpvEvent, type MpvIpc, MpvIpcClosedError, MpvIpcTimeoutError } from "./ipc.ts";
import { type CommandRunner, type MpvChild, type MpvSpawner, nodeCommandRunner, nodeMpvSpawner } from "./process.ts";
import { RestartPolicy, type RestartPolicyOptions } from "./restart-policy.ts";
import { createSlateRenderer } from "./slate.ts";
import type { OutputSettings, Playback, PlayItem, PlayPlan, PlayRecord, Slate } from "./types.ts";

/** Something the engine saw or did, for logs, tests and benchmarks. */
export type PlaybackDiagnostic =
  | { kind: "mpv-started"; pid: number | undefined; at: Date }
  | { kind: "mpv-ready"; pid: number | undefined; at: Date }
  | { kind: "mpv-event"; pid: number | undefined; event: MpvEvent; at: Date }
  | { kind: "mpv-exited"; pid: number | undefined; code: number | null; signal: string | null; at: Date }
  | { kind: "watchdog"; pid: number | undefined; reason: "ipc-timeout" | "stalled" | "start-failed"; at: Date }
  | { kind: "restart-scheduled"; delayMs: number; at: Date };

/** Watchdog timings. */
export interface WatchdogOptions {
  /** How often mpv is asked for `time-pos`; default 1 000 ms. */
  probeIntervalMs?: number;
  /** mpv must answer any command within this; default 2 000 ms. */
  ipcTimeoutMs?: number;
  /** While a plan plays, `time-pos` must change within this; default 5 000 ms. */
  stallMs?: number;
  /** `start()` resolves after this even when mpv is not up yet (supervision goes on); default 15 000 ms. */
  startTimeoutMs?: number;
  /** Restart backoff (100 ms → 10 s, reset after a 30 s stable run). */
  restart?: RestartPolicyOptions;
}

/** Options of {@link createMpvPlayback}. */
export interface MpvPlaybackOptions {
  /** Default "mpv". */
  mpvPath?: string;
  /** Holds mpv's pidfile and the rendered slates; created when missing. */
  runtimeDir: string;
  /** Appended to mpv's arguments (`--vo=…`, `--gpu-context=drm`, `--ao=null` in tests). */
  extraArgs?: readonly string[];
  /** mpv `--hwdec`; default "auto-safe". */
  hwdec?: string;
  /** mpv `--audio-device`; default "auto". */
  audioDevice?: string;
  /** 0..100; default 100. The default for {@link Playback.setOutput}'s unset volume. */
  volume?: number;
  /** Clockwise degrees; default 0. The default for {@link Playback.setOutput}'s unset rotation. */
  rotation?: 0 | 90 | 180 | 270;
  logger: Logger;
  /** Default the system clock. */
  clock?: Clock;
  /** Default: real processes, IPC on a socketpair. */
  spawner?: MpvSpawner;
  /** Runs ffmpeg to render slates. */
  runner?: CommandRunner;
  /** Default "ffmpeg". */
  ffmpegPath?: string;
  /** Slate image size; default 1920x1080. */
  slateSize?: { width: number; height: number };
  watchdog?: WatchdogOptions;
  /** Sees every mpv event and supervisor decision. */
  onDiagnostic?: (diagnostic: PlaybackDiagnostic) => void;
}

/** The engine, plus read access to mpv for diagnostics (`avtech-player doctor`, benchmarks). */
export interface MpvPlayback extends Playback {
  /** Reads one mpv property (e.g. "frame-drop-count"); rejects while mpv is restarting. */
  getProperty(name: string): Promise<unknown>;
}

/** One mpv process and what the supervisor knows about it. */
interface Instance {
  child: MpvChild;
  ipc: MpvIpc;
  /** Set when mpv answered its first command. */
  readyAt: Date | undefined;
  /** Set once the watchdog has condemned it; it only waits for its exit. */
  killed: boolean;
  probeTimer: TimerHandle | undefined;
  stableTimer: TimerHandle | undefined;
  /** Last `time-pos` (seconds) and when it last changed. */
  lastPos: number | undefined;
  lastProgressAt: number;
  /** mpv log lines already logged for this process. */
  logged: Set<string>;
}

/** A playlist entry mpv holds, keyed by its `playlist_entry_id`. */
interface Entry {
  plan: PlayPlan;
  index: number;
}

type Desired = { kind: "plan"; plan: PlayPlan } | { kind: "slate"; slate: Slate; image: string };

/** Distinct mpv log lines logged per mpv process; more are dropped. */
const maxDistinctLogLines = 200;

const startingSlate: Slate = { kind: "connecting", message: "Starting…" };

/**
 * The playback engine: one long-lived mpv driven over JSON IPC, supervised by watchdogs.
 *
 * INVARIANTS:
 * - At most one mpv runs; a new one is spawned only from the previous one's exit (so a condemned
 *   mpv is SIGKILLed and its exit drives the restart: there is one restart path).
 * - Command sequences (load a plan, switch, show a slate, restore after a restart) run one at a
 *   time through `exclusive`, so mpv never sees two sequences interleaved.
 * - `desired` is what should be on screen; after any restart it is restored from there (a plan at
 *   the clip and position last seen). `output` (volume, rotation) is likewise set on every new
 *   mpv before anything is loaded.
 */
export function createMpvPlayback(options: MpvPlaybackOptions): MpvPlayback {
  const log = options.logger.child({ component: "playback" });
  const clock = options.clock ?? systemClock;
  const spawner = options.spawner ?? nodeMpvSpawner;
  const probeIntervalMs = options.watchdog?.probeIntervalMs ?? 1_000;
  const ipcTimeoutMs = options.watchdog?.ipcTimeoutMs ?? 2_000;
  const stallMs = options.watchdog?.stallMs ?? 5_000;
  const startTimeoutMs = options.watchdog?.startTimeoutMs ?? 15_000;
  const policy = new RestartPolicy(options.watchdog?.restart);
  const pidfile = join(options.runtimeDir, "mpv.pid");
  const args = mpvArgs({
    hwdec: options.hwdec,
    audioDevice: options.audioDevice,
    volume: options.volume,
    rotation: options.rotation,
    extraArgs: options.extraArgs,
  });
  const slates = createSlateRenderer({
    dir: join(options.runtimeDir, "slates"),
    runner: options.runner ?? nodeCommandRunner,
    ffmpegPath: options.ffmpegPath,
    width: options.slateSize?.width,
    height: options.slateSize?.height,
  });
  const listeners = new Set<(record: PlayRecord) => void>();
  const diagnose = options.onDiagnostic ?? (() => {});

  let desired: Desired | undefined;
  /** Volume and rotation every mpv gets; starts as the configured defaults (mpv's arguments). */
  let output = { volumePercent: options.volume ?? 100, rotation: options.rotation ?? 0 };
  /** The plan whose entries play now; undefined while a slate shows. */
  let activePlan: PlayPlan | undefined;
  /** A plan appended behind the current clip, waiting for the clip boundary. */
  let pendingPlan: PlayPlan | undefined;
  const entries = new Map<number, Entry>();
  /** The plan clip mpv is on; `shown` once its first frame is out (`playback-restart`). */
  let current: { entryId: number; entry: Entry; startedAt: Date; shown: boolean } | undefined;
  /** The last start-file mpv reported, mapped or not. */
  let lastStart: { entryId: number; at: Date } | undefined;
  /** Where to resume after a restart: the clip index and position within `desired`'s plan. */
  let resumeAt: { plan: PlayPlan; index: number; positionS: number } | undefined;
  let instance: Instance | undefined;
  let restartTimer: TimerHandle | undefined;
  let running = false;
  let firstReady: { resolve: () => void; reject: (error: unknown) => void } | undefined;
  let queue: Promise<unknown> = Promise.resolve();

  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const result = queue.then(fn, fn);
    queue = result.catch(() => {});
    return result;
  };

  const nowMs = () => clock.now().getTime();

  const emitRecord = (ended: { entry: Entry; startedAt: Date }, completed: boolean) => {
    const item = ended.entry.plan.items[ended.entry.index];
    if (!item) return;
    const record: PlayRecord = {
      assetSha256: item.assetSha256,
      videoId: item.videoId,
      playlistId: ended.entry.plan.playlistId,
      ruleId: ended.entry.plan.ruleId,
      startedAt: ended.startedAt,
      endedAt: clock.now(),
      completed,
    };
    for (const listener of listeners) {
      try {
        listener(record);
      } catch (error) {
        log.error({ err: error }, "a play-record listener threw");
      }
    }
  };

  /**
   * Records which plan item an mpv entry is. mpv's start-file for an entry can be read in the same
   * socket read as the loadfile reply that names it, i.e. before this runs: then the start seen
   * earlier is attached now.
   */
  const mapEntry = (inst: Instance, id: number, entry: Entry) => {
    entries.set(id, entry);
    if (!current && lastStart?.entryId === id) began(inst, id, entry, lastStart.at);
  };

  /** A clip of a plan started: track it for proof of play, and complete a pending switch. */
  const began = (inst: Instance, id: number, entry: Entry, at: Date) => {
    current = { entryId: id, entry, startedAt: at, shown: false };
    resumeAt = { plan: entry.plan, index: entry.index, positionS: 0 };
    if (entry.plan !== pendingPlan) return;
    const plan = entry.plan;
    activePlan = plan;
    pendingPlan = undefined;
    log.info({ playlistId: plan.playlistId, ruleId: plan.ruleId }, "switched plan at clip boundary");
    exclusive(() => pruneOldEntries(inst, plan)).catch((error) =>
      log.warn({ err: error }, "could not drop the previous plan's entries"),
    );
  };

  /**
   * Adds `plan`'s items (from `from`, wrapping) to mpv's playlist. The first is loaded with
   * `firstMode`: "replace" cuts what plays; "append-play" appends and starts it only if mpv
   * idles. The first may start at `positionS`.
   */
  const loadPlan = async (
    inst: Instance,
    plan: PlayPlan,
    from: number,
    positionS: number,
    firstMode: "replace" | "append-play",
  ) => {
    const n = plan.items.length;
    for (let k = 0; k < n; k++) {
      const index = (from + k) % n;
      const item = plan.items[index] as PlayItem;
      const mode = k === 0 ? firstMode : "append";
      // mpv 0.35 takes per-file options as loadfile's 3rd argument (0.38+ moved them to the 4th).
      const fileOptions = k === 0 && positionS > 0 ? `start=${positionS.toFixed(3)}` : "";
      const reply = (await inst.ipc.command(["loadfile", item.path, mode, fileOptions], ipcTimeoutMs)) as {
        playlist_entry_id?: number;
      } | null;
      if (typeof reply?.playlist_entry_id === "number") mapEntry(inst, reply.playlist_entry_id, { plan, index });
    }
  };

  /** Sets `output` on mpv: both are runtime properties, so nothing restarts or reloads. */
  const applyOutput = async (inst: Instance) => {
    await inst.ipc.command(["set_property", "volume", output.volumePercent], ipcTimeoutMs);
    await inst.ipc.command(["set_property", "video-rotate", output.rotation], ipcTimeoutMs);
  };

  /** Puts `desired` on screen at once (after a restart, or from a slate). */
  const apply = async (inst: Instance) => {
    if (!desired) return;
    entries.clear();
    pendingPlan = undefined;
    if (desired.kind === "slate") {
      activePlan = undefined;
      await inst.ipc.command(["loadfile", desired.image, "replace"], ipcTimeoutMs);
      return;
    }
    const plan = desired.plan;
    const resume = resumeAt?.plan === plan ? resumeAt : undefined;
    activePlan = plan;
    inst.lastProgressAt = nowMs();
    await loadPlan(inst, plan, resume?.index ?? 0, resume?.positionS ?? 0, "replace");
  };

  /**
   * Queues `plan` behind the clip on screen: `playlist-clear` drops every entry but the current
   * one in a single command (no race with a clip boundary), and the new list is appended, so the
   * current clip plays to its end and the new list follows gaplessly (mpv 0.35 has no
   * playlist-replace). The old entry is dropped when the first new clip starts (see `began`),
   * before the loop could come back to it.
   */
  const switchAtBoundary = async (inst: Instance, plan: PlayPlan) => {
    await inst.ipc.command(["playlist-clear"], ipcTimeoutMs);
    for (const id of [...entries.keys()]) if (id !== current?.entryId) entries.delete(id);
    pendingPlan = plan;
    await loadPlan(inst, plan, 0, 0, "append-play");
  };

  /** Drops entries of earlier plans once the new plan's first clip plays. */
  const pruneOldEntries = async (inst: Instance, plan: PlayPlan) => {
    const playlist = (await inst.ipc.command(["get_property", "playlist"], ipcTimeoutMs)) as { id: number }[];
    for (let i = playlist.length - 1; i >= 0; i--) {
      const id = playlist[i]?.id ?? -1;
      if (entries.get(id)?.plan === plan) continue;
      await inst.ipc.command(["playlist-remove", i], ipcTimeoutMs);
      entries.delete(id);
    }
  };

  const onEvent = (inst: Instance, event: MpvEvent) => {
    diagnose({ kind: "mpv-event", pid: inst.child.pid, event, at: clock.now() });
    if (event.event === "log-message") {
      const fields = { pid: inst.child.pid, mpv: event.prefix };
      const text = String(event.text ?? "").trimEnd();
      // Some messages repeat for every clip (hwdec probing, the slate's PNG probe): log each
      // once per mpv process, so the journal on the SD card does not fill with them.
      const key = `${String(event.prefix)}\u0000${text}`;
      if (inst.logged.has(key) || inst.logged.size >= maxDistinctLogLines) return;
      inst.logged.add(key);
      if (event.level === "error" || event.level === "fatal") log.error(fields, text);
      else log.warn(fields, text);
      return;
    }
    if (inst !== instance) return;
    const id = event.playlist_entry_id;
    if (event.event === "start-file" && typeof id === "number") {
      const entry = entries.get(id);
      lastStart = { entryId: id, at: clock.now() };
      inst.lastProgressAt = nowMs();
      inst.lastPos = undefined;
      current = undefined;
      if (entry) began(inst, id, entry, lastStart.at);
    } else if (event.event === "playback-restart") {
      if (current) current.shown = true;
    } else if (event.event === "end-file" && typeof id === "number") {
      // A clip that never showed a frame (missing file, cut while opening) was not played.
      if (current?.entryId === id) {
        if (current.shown) emitRecord(current, event.reason === "eof");
        current = undefined;
      }
    }
  };

  const condemn = (inst: Instance, reason: "ipc-timeout" | "stalled" | "start-failed") => {
    if (inst.killed) return;
    inst.killed = true;
    log.warn({ pid: inst.child.pid, reason }, "mpv is unhealthy; killing it");
    diagnose({ kind: "watchdog", pid: inst.child.pid, reason, at: clock.now() });
    // SIGKILL also ends a SIGSTOPped process; its exit event then schedules the restart.
    inst.child.kill("SIGKILL");
  };

  const probe = async (inst: Instance) => {
    inst.probeTimer = undefined;
    if (inst !== instance || inst.killed) return;
    let pos: number | undefined;
    try {
      const value = await inst.ipc.command(["get_property", "time-pos"], ipcTimeoutMs);
      pos = typeof value === "number" ? value : undefined;
    } catch (error) {
      if (error instanceof MpvIpcTimeoutError) {
        condemn(inst, "ipc-timeout");
        return;
      }
      // "property unavailable" (between files, slate loading) is an answer; a closed IPC ends in exit.
    }
    if (inst !== instance || inst.killed) return;
    if (pos !== undefined && pos !== inst.lastPos) {
      inst.lastPos = pos;
      inst.lastProgressAt = nowMs();
      if (current) resumeAt = { plan: current.entry.plan, index: current.entry.index, positionS: pos };
    } else if (desired?.kind === "plan" && nowMs() - inst.lastProgressAt > stallMs) {
      condemn(inst, "stalled");
      return;
    }
    inst.probeTimer = clock.setTimeout(() => void probe(inst), probeIntervalMs);
  };

  const launch = () => {
    restartTimer = undefined;
    if (!running) return;
    const child = spawner.spawn(options.mpvPath ?? "mpv", args);
    const inst: Instance = {
      child,
      ipc: createMpvIpc(child.ipc, clock),
      readyAt: undefined,
      killed: false,
      probeTimer: undefined,
      stableTimer: undefined,
      lastPos: undefined,
      lastProgressAt: nowMs(),
      logged: new Set(),
    };
    instance = inst;
    log.info({ pid: child.pid }, "mpv started");
    diagnose({ kind: "mpv-started", pid: child.pid, at: clock.now() });
    child.onExit((exit) => onExit(inst, exit));
    inst.ipc.onEvent((event) => onEvent(inst, event));
    if (child.pid !== undefined) {
      writeFile(pidfile, `${child.pid}\n`).catch((error) =>
        log.warn({ err: error, pidfile }, "could not write pidfile"),
      );
    }
    exclusive(async () => {
      await inst.ipc.command(["get_property", "mpv-version"], ipcTimeoutMs);
      // --no-terminal hides mpv's own messages; warnings and errors (a DRM or decoder failure on
      // the device) come over IPC instead and go to our log.
      await inst.ipc.command(["request_log_messages", "warn"], ipcTimeoutMs);
      await applyOutput(inst);
      await apply(inst);
    }).then(
      () => {
        if (inst !== instance || inst.killed) return;
        inst.readyAt = clock.now();
        log.info({ pid: child.pid }, "mpv ready");
        diagnose({ kind: "mpv-ready", pid: child.pid, at: inst.readyAt });
        inst.stableTimer = clock.setTimeout(() => policy.stable(), policy.stableMs);
        inst.probeTimer = clock.setTimeout(() => void probe(inst), probeIntervalMs);
        firstReady?.resolve();
        firstReady = undefined;
      },
      (error: unknown) => {
        if (inst !== instance) return;
        log.warn({ err: error, pid: child.pid }, "mpv did not come up");
        condemn(inst, "start-failed");
      },
    );
  };

  const onExit = (inst: Instance, exit: { code: number | null; signal: string | null; error?: Error }) => {
    inst.ipc.close();
    inst.probeTimer?.cancel();
    inst.stableTimer?.cancel();
    diagnose({ kind: "mpv-exited", pid: inst.child.pid, code: exit.code, signal: exit.signal, at: clock.now() });
    if (inst !== instance) return;
    instance = undefined;
    if (current) {
      if (current.shown) emitRecord(current, false);
      current = undefined;
    }
    if (!running) return;
    const delayMs = policy.failed(nowMs(), inst.readyAt?.getTime());
    if (exit.error) {
      log.error(
        { err: exit.error, mpvPath: options.mpvPath ?? "mpv", delayMs },
        "could not start mpv: install it (apt-get install mpv) or fix mpvPath; retrying",
      );
    } else {
      log.warn({ pid: inst.child.pid, code: exit.code, signal: exit.signal, delayMs }, "mpv exited; restarting");
    }
    diagnose({ kind: "restart-scheduled", delayMs, at: clock.now() });
    restartTimer = clock.setTimeout(launch, delayMs);
  };

  const killStale = async () => {
    let text: string;
    try {
      text = await readFile(pidfile, "utf8");
    } catch {
      return;
    }
    const pid = Number.parseInt(text, 10);
    if (Number.isInteger(pid) && pid > 0) {
      log.warn({ pid }, "killing an mpv left over from a previous run");
      spawner.killStale(pid);
    }
  };

  const samePlan = (a: PlayPlan, b: PlayPlan) =>
    a.playlistId === b.playlistId &&
    a.ruleId === b.ruleId &&
    a.items.length === b.items.length &&
    a.items.every((item, i) => {
      const other = b.items[i];
      return other !== undefined && item.path === other.path && item.assetSha256 === other.assetSha256;
    });

  /**
   * Runs a command sequence that puts `desired` on screen. If mpv dies or hangs meanwhile, the
   * restart restores `desired` anyway, so that is not the caller's error.
   */
  const onScreen = async (inst: Instance, sequence: (inst: Instance) => Promise<void>) => {
    try {
      await sequence(inst);
    } catch (error) {
      if (error instanceof MpvIpcTimeoutError) condemn(inst, "ipc-timeout");
      else if (!(error instanceof MpvIpcClosedError)) throw error;
      log.warn({ err: error, pid: inst.child.pid }, "mpv failed during a change; the restart will restore it");
    }
  };

  const readyInstance = () => (instance?.readyAt && !instance.killed ? instance : undefined);

  const requireReady = (what: string): Instance => {
    const inst = readyInstance();
    if (!inst) throw new Error(`cannot ${what}: mpv is restarting; retry in a few seconds`);
    return inst;
  };

  return {
    async start(signal) {
      if (running) return;
      await mkdir(options.runtimeDir, { recursive: true, mode: 0o700 });
      await killStale();
      if (!desired) desired = { kind: "slate", slate: startingSlate, image: await slates.render(startingSlate) };
      running = true;
      const ready = new Promise<void>((resolve, reject) => {
        firstReady = { resolve, reject };
      });
      const onAbort = () => firstReady?.reject(signal?.reason);
      signal?.addEventListener("abort", onAbort, { once: true });
      // The player must not hang here when mpv cannot start: it has to come up, connect and
      // report the crash loop. Supervision keeps restarting mpv after this gives up waiting.
      const giveUp = clock.setTimeout(() => {
        log.error({ startTimeoutMs }, "mpv is not up yet; continuing while the watchdog keeps restarting it");
        firstReady?.resolve();
        firstReady = undefined;
      }, startTimeoutMs);
      launch();
      try {
        await ready;
      } finally {
        giveUp.cancel();
        signal?.removeEventListener("abort", onAbort);
      }
    },

    async stop() {
      running = false;
      restartTimer?.cancel();
      restartTimer = undefined;
      firstReady?.reject(new Error("playback stopped before mpv came up"));
      firstReady = undefined;
      const inst = instance;
      if (!inst) return;
      inst.probeTimer?.cancel();
      inst.stableTimer?.cancel();
      const exited = new Promise<void>((resolve) => inst.child.onExit(() => resolve()));
      inst.ipc.command(["quit"], 1_000).catch(() => inst.child.kill("SIGKILL"));
      const timeout = clock.setTimeout(() => inst.child.kill("SIGKILL"), 2_000);
      await exited;
      timeout.cancel();
      await rm(pidfile, { force: true });
    },

    play(plan) {
      if (plan.items.length === 0) return Promise.reject(new Error("a plan needs at least one item"));
      return exclusive(async () => {
        if (desired?.kind === "plan" && samePlan(desired.plan, plan)) return;
        const fromSlate = desired?.kind !== "plan";
        desired = { kind: "plan", plan };
        log.info({ playlistId: plan.playlistId, ruleId: plan.ruleId, items: plan.items.length }, "play");
        const inst = readyInstance();
        if (!inst) return;
        if (fromSlate || !activePlan) await onScreen(inst, apply);
        else await onScreen(inst, (i) => switchAtBoundary(i, plan));
      });
    },

    async showSlate(slate) {
      const image = await slates.render(slate);
      await exclusive(async () => {
        desired = { kind: "slate", slate, image };
        resumeAt = undefined;
        log.info({ slate: slate.kind }, "show slate");
        const inst = readyInstance();
        if (inst) await onScreen(inst, apply);
      });
    },

    setOutput(settings: OutputSettings) {
      return exclusive(async () => {
        const next = {
          volumePercent: Math.min(100, Math.max(0, Math.round(settings.volumePercent ?? options.volume ?? 100))),
          rotation: settings.rotation ?? options.rotation ?? 0,
        };
        if (next.volumePercent === output.volumePercent && next.rotation === output.rotation) return;
        output = next;
        log.info(output, "output settings");
        const inst = readyInstance();
        if (inst) await onScreen(inst, applyOutput);
      });
    },

    async identify(text, seconds) {
      const inst = requireReady("identify");
      await inst.ipc.command(["show-text", text, Math.round(seconds * 1000)], ipcTimeoutMs);
    },

    async getProperty(name) {
      return requireReady(`read ${name}`).ipc.command(["get_property", name], ipcTimeoutMs);
    },

    async screenshot(path) {
      const inst = requireReady("take a screenshot");
      // "video" grabs the decoded frame, which works with every vo (also --vo=null in tests).
      await inst.ipc.command(["screenshot-to-file", path, "video"], 10_000);
    },

    status(): PlaybackStatus {
      const now = nowMs();
      const base = {
        mpvRestartsLastHour: policy.restartsLastHour(now),
        mpvCrashLoop: policy.crashLoop,
      };
      if (!readyInstance()) return create(PlaybackStatusSchema, { ...base, state: PlaybackState.RECOVERING });
      if (desired?.kind === "slate") {
        const kind = desired.slate.kind;
        const state =
          kind === "pairing"
            ? PlaybackState.PAIRING
            : kind === "display-off"
              ? PlaybackState.DISPLAY_OFF
              : PlaybackState.STANDBY;
        return create(PlaybackStatusSchema, { ...base, state });
      }
      const plan = activePlan;
      const item = current ? current.entry.plan.items[current.entry.index] : undefined;
      return create(PlaybackStatusSchema, {
        ...base,
        state: PlaybackState.PLAYING,
        playlistId: plan?.playlistId ?? "",
        ruleId: plan?.ruleId ?? "",
        assetSha256: item?.assetSha256 ?? "",
        videoId: item?.videoId ?? "",
        positionMs: Math.max(0, Math.round((instance?.lastPos ?? 0) * 1000)),
      });
    },

    healthy() {
      const inst = readyInstance();
      if (!inst) return false;
      return desired?.kind !== "plan" || nowMs() - inst.lastProgressAt <= stallMs;
    },

    onPlayRecord(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
