import { rm } from "node:fs/promises";
import { AsyncQueue } from "@avtech/io";
import {
  type ConnectRequest,
  ConnectRequestSchema,
  type DeviceFacts,
  DeviceService,
  SyncFailureReason,
} from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import type { Health } from "@avtech/proto/gen/avtech/device/v1/health_pb.js";
import type { DesiredState } from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import type { UpdateReport } from "@avtech/proto/gen/avtech/device/v1/update_pb.js";
import { create } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import type { Logger } from "pino";
import type { Enrollment } from "../config/index.ts";
import { Backoff, type Clock, sleep, type TimerHandle } from "../lib/index.ts";
import type { Playback } from "../playback/types.ts";
import type { FailureReport, SyncReporter } from "../reconcile/index.ts";
import { isAbortError, messageOf, type StoredCredentials } from "../storage/index.ts";
import type { Rebooter } from "../update/index.ts";
import { runCommand } from "./commands.ts";
import type { PlayEventBuffer } from "./play-buffer.ts";
import { ensureCredentials } from "./register.ts";

/** What the link needs from the reconciler. */
export interface LinkReconciler {
  readonly appliedVersion: bigint;
  setTarget(state: DesiredState): Promise<void>;
  resync(): Promise<void>;
  clearCache(): Promise<number>;
  cachedAssetCount(): number;
}

/** Samples the device's health for heartbeats. */
export interface HealthSource {
  sample(): Promise<Health>;
}

/** Reconnect timing; defaults follow the fleet rules (reliability-facts.md). */
export interface ReconnectOptions {
  /** First backoff cap; default 1 000 ms. */
  initialMs?: number;
  /** Largest backoff cap; default 300 000 ms (5 min). */
  maxMs?: number;
  /** Upper bound of the random delay before the first connect; default 5 000 ms. */
  firstDelayMaxMs?: number;
  /** Connected this long (after Welcome) before the backoff resets; default 20 000 ms. */
  stableMs?: number;
  /**
   * Upper bound of the random delay before the first reconnect after a stable session ended;
   * default 30 000 ms. Without it every screen of a replica that died would retry within the
   * first backoff cap (1 s) and land on the survivors together; spread over 30 s, even a whole
   * fleet losing its only replica makes at most ~3.3 % of its reconnects in any one second.
   */
  spreadMs?: number;
}

/** Dependencies of the {@link Link}. */
export interface LinkDeps {
  transport: Transport;
  enrollment: Enrollment;
  tokenFile: string;
  hardwareId: string;
  facts: DeviceFacts;
  bootId: string;
  startedAt: Date;
  reconciler: LinkReconciler;
  playback: Playback;
  health: HealthSource;
  playEvents: PlayEventBuffer;
  rebooter: Rebooter;
  exit: (code: number) => void;
  clock: Clock;
  logger: Logger;
  /** The config's heartbeat interval until the server's config says otherwise. */
  heartbeatIntervalSeconds: number;
  tmpDir: string;
  reconnect?: ReconnectOptions;
  random?: () => number;
  /** The running OS release and RAUC's booted slot for Hello; default none (both empty). */
  os?: () => { imageVersion: string; bootedSlot: string };
}

/** The link's state, for `avtech-player status`. */
export interface LinkStatus {
  state: "starting" | "registering" | "connecting" | "connected" | "offline";
  since: string;
  deviceId: string | undefined;
  screenName: string | undefined;
  lastError: string | undefined;
  /** Server time minus device time at Welcome, in ms. */
  clockSkewMs: number | undefined;
  /** Connection attempts since the last stable session. */
  attempt: number;
}

/**
 * The player's side of DeviceService: registration, then one bidi Connect stream at a time.
 * Hello → Welcome; desired states go to the reconciler; sync reports, heartbeats, proof-of-play
 * batches and command results go up. Reconnects use full-jitter backoff from 1 s to 5 min after
 * a random first delay, and reset it only after a stable session, whose loss is followed by a
 * random delay under `spreadMs`, so a fleet restarted together (or a replica's share of it) does
 * not reconnect together. Implements the reconciler's SyncReporter: the latest report is
 * kept and sent again at the start of every session (the server may have missed it). OS update
 * reports are kept the same way, apart from sync reports (each kind's latest survives).
 */
export class Link implements SyncReporter {
  readonly #deps: LinkDeps;
  readonly #client;
  readonly #backoff: Backoff;
  #session: AsyncQueue<Outgoing> | undefined;
  #lastReport: ConnectRequest | undefined;
  #lastUpdateReport: ConnectRequest | undefined;
  #credentials: StoredCredentials | undefined;
  #status: LinkStatus;
  #heartbeatSeconds: number;
  #batchSeconds = 60;
  #welcomedAt: Date | undefined;

  constructor(deps: LinkDeps) {
    this.#deps = deps;
    this.#client = createClient(DeviceService, deps.transport);
    this.#backoff = new Backoff({
      initialMs: deps.reconnect?.initialMs ?? 1_000,
      maxMs: deps.reconnect?.maxMs ?? 300_000,
      ...(deps.random ? { random: deps.random } : {}),
    });
    this.#heartbeatSeconds = deps.heartbeatIntervalSeconds;
    this.#status = {
      state: "starting",
      since: deps.clock.now().toISOString(),
      deviceId: undefined,
      screenName: undefined,
      lastError: undefined,
      clockSkewMs: undefined,
      attempt: 0,
    };
  }

  /** The current status. */
  status(): LinkStatus {
    return { ...this.#status, attempt: this.#backoff.attempt };
  }

  /** The device token once registered (for asset requests to the control plane itself). */
  deviceToken(): string | undefined {
    return this.#credentials?.deviceToken;
  }

  /** The screen name from the credentials or the last Welcome. */
  screenName(): string {
    return this.#status.screenName ?? this.#credentials?.screenName ?? "";
  }

  /** SyncReporter: a version is live. */
  applied(version: bigint, at: Date): void {
    this.#report(
      create(ConnectRequestSchema, {
        message: {
          case: "syncReport",
          value: { version, result: { case: "applied", value: { appliedAt: timestampFromDate(at) } } },
        },
      }),
    );
  }

  /** SyncReporter: a version failed. */
  failed(version: bigint, failure: FailureReport, attempt: number): void {
    this.#report(
      create(ConnectRequestSchema, {
        message: {
          case: "syncReport",
          value: {
            version,
            result: {
              case: "failed",
              value: {
                reason: SyncFailureReason[failure.reason],
                message: failure.message,
                assetSha256: failure.assetSha256,
                neededBytes: BigInt(failure.neededBytes),
                availableBytes: BigInt(failure.availableBytes),
                attempt,
              },
            },
          },
        },
      }),
    );
  }

  /**
   * Sends an OS update report now if a session is up, and again after every later Welcome until a
   * newer one replaces it (reports are idempotent on the server). A waiting, unsent report is
   * replaced by a newer one, so progress reports never pile up.
   */
  updateReport(report: UpdateReport): void {
    const message = create(ConnectRequestSchema, { message: { case: "updateReport", value: report } });
    this.#lastUpdateReport = message;
    this.#session?.push({ message }, "update");
  }

  /** Registers if needed, then keeps a session open until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const { clock, logger } = this.#deps;
    const random = this.#deps.random ?? Math.random;
    try {
      await sleep(clock, Math.floor(random() * (this.#deps.reconnect?.firstDelayMaxMs ?? 5_000)), signal);
      for (;;) {
        this.#setState("registering");
        const credentials = await ensureCredentials(
          {
            client: this.#client,
            enrollment: this.#deps.enrollment,
            tokenFile: this.#deps.tokenFile,
            hardwareId: this.#deps.hardwareId,
            facts: this.#deps.facts,
            playback: this.#deps.playback,
            clock,
            logger,
          },
          signal,
        ).catch((error: unknown) => {
          if (signal.aborted || isAbortError(error)) throw error;
          // e.g. the token file cannot be written: log, back off and try again rather than die.
          this.#status.lastError = messageOf(error);
          logger.error({ err: error }, "registration failed");
          return undefined;
        });
        // An abort during a unary call that still answered must not start a session.
        signal.throwIfAborted();
        if (credentials) this.#credentials = credentials;
        const welcomedAt = !credentials ? undefined : await this.#connectOnce(credentials, signal);
        this.#setState("offline");
        const stableMs = this.#deps.reconnect?.stableMs ?? 20_000;
        if (welcomedAt && clock.now().getTime() - welcomedAt.getTime() >= stableMs) {
          this.#backoff.reset();
          await sleep(clock, Math.floor(random() * (this.#deps.reconnect?.spreadMs ?? 30_000)), signal);
        } else {
          await sleep(clock, this.#backoff.next(), signal);
        }
      }
    } catch (error) {
      if (!signal.aborted && !isAbortError(error)) throw error;
    }
  }

  /** Runs one session; failures are logged and end it. Resolves with the Welcome time, if any. */
  async #connectOnce(credentials: StoredCredentials, signal: AbortSignal): Promise<Date | undefined> {
    const { logger } = this.#deps;
    this.#status.deviceId = credentials.deviceId;
    this.#setState("connecting");
    return await this.#runSession(credentials, signal).catch(async (error: unknown) => {
      if (signal.aborted || isAbortError(error)) throw error;
      this.#status.lastError = messageOf(error);
      logger.warn({ err: messageOf(error), code: ConnectError.from(error).code }, "stream ended");
      if (ConnectError.from(error).code === Code.Unauthenticated) {
        // The token was revoked (screen deleted or re-claimed): forget it and register again.
        logger.error("the control plane refused the device token; registering again");
        await rm(this.#deps.tokenFile, { force: true });
      }
      return this.#welcomedAt;
    });
  }

  /** One stream; resolves with the Welcome time (undefined if never welcomed) when it ends. */
  async #runSession(credentials: StoredCredentials, signal: AbortSignal): Promise<Date | undefined> {
    const { clock, logger, reconciler, playEvents } = this.#deps;
    const queue = new AsyncQueue<Outgoing>();
    const queuedBatches = new Set<string>();
    this.#welcomedAt = undefined;
    let heartbeat: TimerHandle | undefined;
    let batchTimer: TimerHandle | undefined;
    // Set when the session ends, so a heartbeat or batch still awaiting its sample does not re-arm.
    let closed = false;
    const hello = create(ConnectRequestSchema, {
      message: {
        case: "hello",
        value: {
          playerVersion: this.#deps.facts.playerVersion,
          osVersion: this.#deps.facts.osVersion,
          appliedVersion: reconciler.appliedVersion,
          cachedAssetCount: reconciler.cachedAssetCount(),
          bootId: this.#deps.bootId,
          startedAt: timestampFromDate(this.#deps.startedAt),
          deviceTime: timestampFromDate(clock.now()),
          ...this.#deps.os?.(),
        },
      },
    });
    async function* requests(): AsyncGenerator<ConnectRequest> {
      yield hello;
      for await (const out of queue) {
        yield out.message;
        // Resumed: the transport took the message, so the batch has left this process.
        if (out.batchId) await playEvents.markSent(out.batchId);
      }
    }
    const sendBatches = async () => {
      for (const batch of await playEvents.pending()) {
        if (queuedBatches.has(batch.id)) continue;
        queuedBatches.add(batch.id);
        queue.push({
          message: create(ConnectRequestSchema, { message: { case: "playEvents", value: batch.events } }),
          batchId: batch.id,
        });
      }
    };
    const beat = async () => {
      try {
        const health = await this.#deps.health.sample();
        queue.push(
          {
            message: create(ConnectRequestSchema, {
              message: {
                case: "heartbeat",
                value: { sentAt: timestampFromDate(clock.now()), health, playback: this.#deps.playback.status() },
              },
            }),
          },
          "heartbeat",
        );
        await sendBatches();
      } catch (error) {
        logger.warn({ err: messageOf(error) }, "heartbeat sample failed");
      }
      if (!closed) heartbeat = clock.setTimeout(() => void beat(), this.#heartbeatSeconds * 1000);
    };
    const sealBatches = async () => {
      await playEvents.seal().catch((error: unknown) => logger.error({ err: error }, "cannot store play events"));
      await sendBatches();
      if (!closed) batchTimer = clock.setTimeout(() => void sealBatches(), this.#batchSeconds * 1000);
    };

    const abort = new AbortController();
    const onAbort = () => abort.abort(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    // The listener above does not fire for a signal that is already aborted.
    if (signal.aborted) onAbort();
    this.#session = queue;
    try {
      const responses = this.#client.connect(requests(), {
        signal: abort.signal,
        headers: { authorization: `Bearer ${credentials.deviceToken}` },
      });
      for await (const response of responses) {
        const m = response.message;
        switch (m.case) {
          case "welcome": {
            this.#welcomedAt = clock.now();
            this.#status.screenName = m.value.screenName;
            this.#status.deviceId = m.value.deviceId;
            this.#status.lastError = undefined;
            if (m.value.serverTime) {
              this.#status.clockSkewMs = timestampDate(m.value.serverTime).getTime() - clock.now().getTime();
            }
            this.#applyConfig(m.value.config);
            this.#setState("connected");
            logger.info({ deviceId: m.value.deviceId, skewMs: this.#status.clockSkewMs }, "connected");
            if (this.#lastReport) queue.push({ message: this.#lastReport }, "sync");
            if (this.#lastUpdateReport) queue.push({ message: this.#lastUpdateReport }, "update");
            void beat();
            void sealBatches();
            break;
          }
          case "desiredState":
            logger.info({ version: m.value.version.toString() }, "desired state received");
            void reconciler.setTarget(m.value);
            break;
          case "command":
            logger.info({ commandId: m.value.commandId, kind: m.value.kind }, "command received");
            void runCommand(
              m.value,
              {
                playback: this.#deps.playback,
                rebooter: this.#deps.rebooter,
                clock,
                resync: () => reconciler.resync(),
                clearCache: () => reconciler.clearCache(),
                exit: this.#deps.exit,
                screenName: () => this.screenName(),
                tmpDir: this.#deps.tmpDir,
              },
              (message) => queue.push({ message }),
            );
            break;
          case "config":
            this.#applyConfig(m.value);
            break;
          default:
            break;
        }
      }
      return this.#welcomedAt;
    } finally {
      closed = true;
      signal.removeEventListener("abort", onAbort);
      heartbeat?.cancel();
      batchTimer?.cancel();
      this.#session = undefined;
      queue.close();
      abort.abort();
    }
  }

  #applyConfig(config: { heartbeatIntervalSeconds: number; playEventBatchSeconds: number } | undefined): void {
    if (!config) return;
    if (config.heartbeatIntervalSeconds >= 5 && config.heartbeatIntervalSeconds <= 300) {
      this.#heartbeatSeconds = config.heartbeatIntervalSeconds;
    }
    if (config.playEventBatchSeconds > 0) this.#batchSeconds = config.playEventBatchSeconds;
  }

  #report(message: ConnectRequest): void {
    this.#lastReport = message;
    this.#session?.push({ message }, "sync");
  }

  #setState(state: LinkStatus["state"]): void {
    if (this.#status.state === state) return;
    this.#status.state = state;
    this.#status.since = this.#deps.clock.now().toISOString();
  }
}

interface Outgoing {
  message: ConnectRequest;
  /** Set for a proof-of-play batch: deleted from disk once the transport has taken it. */
  batchId?: string;
}
