import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import {
  AssetCache,
  createHttpGetter,
  type FsSpace,
  PlayTimes,
  type SpaceProbe,
  statfsProbe,
} from "../../src/assets/index.ts";
import { Backoff, type Clock, systemClock } from "../../src/lib/index.ts";
import { type AppliedStateListener, Reconciler, StateStore } from "../../src/reconcile/index.ts";
import { ScheduleTimer } from "../../src/schedule/index.ts";
import { prepareLayout, type StateLayout, stateLayout } from "../../src/storage/index.ts";
import { FakePlayback } from "./fake-playback.ts";
import { RecordingReporter } from "./reporter.ts";

/** A space probe whose free bytes a test sets (a disk that fills up). */
export class SimulatedDisk implements SpaceProbe {
  freeBytes: number | undefined;
  async space(path: string): Promise<FsSpace> {
    const real = await statfsProbe.space(path);
    return this.freeBytes === undefined ? real : { ...real, freeBytes: this.freeBytes };
  }
}

/** Options of {@link startDevice}. */
export interface DeviceOptions {
  /** Reuse a data folder (a restart); default a new temp folder. */
  dataDir?: string;
  baseUrl: string;
  maxMediaBytes?: number;
  minFreeBytes?: number;
  clock?: Clock;
  disk?: SimulatedDisk;
  /** Told about the last good state at boot and each applied one (the OS update module in the player). */
  appliedListener?: AppliedStateListener;
}

/** The player's offline core (cache, reconciler, schedule) on real files with a fake Playback. */
export interface TestDevice {
  dataDir: string;
  layout: StateLayout;
  playback: FakePlayback;
  reporter: RecordingReporter;
  reconciler: Reconciler;
  cache: AssetCache;
  timer: ScheduleTimer;
  disk: SimulatedDisk;
  resumes: number[];
  stop(): Promise<void>;
  /** Stops and deletes the data folder. */
  destroy(): Promise<void>;
}

/** Builds and boots a device. */
export async function startDevice(options: DeviceOptions): Promise<TestDevice> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), "avtech-device-")));
  const layout = stateLayout(dataDir, join(dataDir, "media"));
  await prepareLayout(layout);
  const clock = options.clock ?? systemClock;
  const logger = pino({ level: "silent" });
  const disk = options.disk ?? new SimulatedDisk();
  const cache = new AssetCache(layout.mediaDir, disk);
  const playback = new FakePlayback();
  const reporter = new RecordingReporter();
  const timer = new ScheduleTimer({ playback, media: cache, clock, logger });
  const resumes: number[] = [];
  const playTimes = new PlayTimes(layout.playTimesFile, clock, 10);
  playback.onPlayRecord((record) => playTimes.touch(record.assetSha256, record.startedAt));
  const reconciler = new Reconciler({
    cache,
    playTimes,
    store: new StateStore(layout.lastGoodFile),
    player: timer,
    reporter,
    http: createHttpGetter(),
    clock,
    logger,
    limits: { maxMediaBytes: options.maxMediaBytes ?? 1e12, minFreeBytes: options.minFreeBytes ?? 0 },
    resolveUrl: (url) => new URL(url, options.baseUrl),
    // Fast retries keep tests short; the production default is 1 s → 5 min.
    backoff: new Backoff({ initialMs: 20, maxMs: 100 }),
    onDownloadResume: (_sha, offset) => resumes.push(offset),
    ...(options.appliedListener ? { appliedListener: options.appliedListener } : {}),
  });
  await reconciler.boot();
  const stop = async () => {
    timer.stop();
    await reconciler.stop();
  };
  return {
    dataDir,
    layout,
    playback,
    reporter,
    reconciler,
    cache,
    timer,
    disk,
    resumes,
    stop,
    async destroy() {
      await stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
