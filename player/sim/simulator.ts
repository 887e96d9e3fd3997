import http2 from "node:http2";
import net from "node:net";
import { AsyncQueue } from "@avtech/io";
import { CommandKind, CommandStatus } from "@avtech/proto/gen/avtech/device/v1/command_pb.js";
import {
  type ConnectRequest,
  ConnectRequestSchema,
  type DeviceCredentials,
  DeviceService,
} from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { PlaybackState } from "@avtech/proto/gen/avtech/device/v1/health_pb.js";
import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { type Client, createClient, type Transport } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { LeanFrames, type PlayBatches, runLeanStream, startPlayBatches } from "./lean-stream.ts";
import { simulatedHeartbeat, simulatedHello } from "./messages.ts";
import { PlaySchedule, type SimulatedPlays } from "./plays.ts";

/** Options of {@link startFleetSimulator}. */
export interface FleetSimulatorOptions {
  /** The control plane's gRPC (HTTP/2) URL, e.g. http://127.0.0.1:8081. */
  baseUrl: string;
  /** Number of simulated screens. */
  count: number;
  /** Enrolls each screen with this key (hardware ids `<hardwareIdPrefix>-<n>`). */
  enrollmentKey: string;
  /** Default "sim". Reusing a prefix re-enrolls the same screens. */
  hardwareIdPrefix?: string;
  /** Streams multiplexed on one HTTP/2 connection; default 100. */
  streamsPerConnection?: number;
  /** Heartbeat interval before the server's Welcome says otherwise; default 15 000 ms. */
  heartbeatIntervalMs?: number;
  /** Concurrent registrations while starting; default 20. */
  registrationConcurrency?: number;
  /**
   * "connect" (default): each stream runs on the Connect client, like the player. "lean": raw
   * HTTP/2 with pre-encoded frames (lean-stream.ts), for benchmarks where the simulator must
   * cost the shared CPU as little as possible.
   */
  streams?: "connect" | "lean";
  /** Proof of play the screens send once {@link FleetSimulator.startPlays} is called; none without it. */
  plays?: SimulatedPlays;
  /** How screens come back after losing their stream; the player's defaults when unset. */
  reconnect?: Partial<ReconnectPolicy>;
  /**
   * Source address of the screens' connections (e.g. "127.0.1.2"); default the system's choice. Every
   * connection to one server address needs its own local port, and Linux hands out ~28,000
   * (net.ipv4.ip_local_port_range): simulators on their own loopback addresses hold more screens
   * against one balancer together than that.
   */
  localAddress?: string;
}

/**
 * The player's reconnect policy (player/src/link): full jitter everywhere. A screen that loses a
 * stable stream waits a random time in [0, spreadMs) before its first try, so when a replica dies
 * its screens come back spread over `spreadMs` instead of within the first second; attempts that
 * fail then back off from 1 s doubling to 5 min, each a random time under the cap.
 */
export interface ReconnectPolicy {
  /** Window the first reconnect after a stable stream is drawn from; default 30 000 ms. */
  spreadMs: number;
  /** A stream connected (welcomed) this long counts as stable; default 20 000 ms. */
  stableMs: number;
}

/** The defaults of {@link ReconnectPolicy}, the same as the player link's. */
export const defaultReconnectPolicy: ReconnectPolicy = { spreadMs: 30_000, stableMs: 20_000 };

/** Counters of a running simulation. */
export interface FleetSimulatorStats {
  registered: number;
  connected: number;
  desiredStatesReceived: number;
  commandsAnswered: number;
  streamErrors: number;
  /** Play events sent (in PlayEvents messages handed to the stream). */
  playEventsSent: number;
}

/** A running fleet of simulated screens, each holding a real Connect stream. */
export interface FleetSimulator {
  readonly screens: readonly SimulatedScreen[];
  stats(): FleetSimulatorStats;
  /** Resolves when every screen has a stream that received Welcome. */
  whenConnected(timeoutMs: number): Promise<void>;
  /** Every screen starts playing its clips now and sends its plays (needs `plays` in the options). */
  startPlays(): void;
  /**
   * Screens hand no more plays to their streams from now on, so the counts of what was sent stop
   * moving and a test can wait for the store to match them (plays finished and not yet sent are dropped).
   */
  stopPlays(): void;
  stop(): Promise<void>;
}

/** One simulated screen. */
export interface SimulatedScreen {
  readonly hardwareId: string;
  credentials: DeviceCredentials | undefined;
  appliedVersion: bigint;
  /** When (Date.now()) each desired-state version arrived. */
  readonly receivedAt: Map<bigint, number>;
  connected: boolean;
  /** Streams the server has welcomed so far (1 after the first connect, +1 per reconnect). */
  welcomes: number;
  /** When (Date.now()) the latest stream was welcomed. */
  lastWelcomeAt: number | undefined;
  /** Play events this screen handed to its stream (its share of {@link FleetSimulatorStats.playEventsSent}). */
  playEventsSent: number;
}

/**
 * Starts `count` simulated screens that behave like well-mannered players: they enroll, open the
 * bidi stream, say hello, send heartbeats with plausible health, apply every desired state at once
 * (acking it), and answer commands. Used by load tests, benchmarks and the demo.
 */
export async function startFleetSimulator(options: FleetSimulatorOptions): Promise<FleetSimulator> {
  const streamsPerConnection = options.streamsPerConnection ?? 100;
  const abort = new AbortController();
  const stats: FleetSimulatorStats = {
    registered: 0,
    connected: 0,
    desiredStatesReceived: 0,
    commandsAnswered: 0,
    streamErrors: 0,
    playEventsSent: 0,
  };
  const transports: Transport[] = [];
  const clients: Array<Client<typeof DeviceService>> = [];
  const clientFor = (index: number) => {
    const slot = Math.floor(index / streamsPerConnection);
    if (!clients[slot]) {
      const transport = createGrpcTransport({
        baseUrl: options.baseUrl,
        pingIntervalMs: 30_000,
        ...(options.localAddress ? { nodeOptions: connectFrom(options.localAddress) } : {}),
      });
      transports[slot] = transport;
      clients[slot] = createClient(DeviceService, transport);
    }
    return clients[slot] as Client<typeof DeviceService>;
  };

  // Lean streams open their own connections: registration then shares one, closed afterwards, so
  // the server does not hold an idle registration connection per screen next to its stream.
  const registrationSessions =
    options.streams === "lean" ? new Http2SessionManager(options.baseUrl, { pingIntervalMs: 30_000 }) : undefined;
  const registrationClient =
    registrationSessions &&
    createClient(
      DeviceService,
      createGrpcTransport({ baseUrl: options.baseUrl, sessionManager: registrationSessions }),
    );

  const prefix = options.hardwareIdPrefix ?? "sim";
  const screens: SimulatedScreen[] = Array.from({ length: options.count }, (_, n) => ({
    hardwareId: `${prefix}-${String(n + 1).padStart(5, "0")}`,
    credentials: undefined,
    appliedVersion: 0n,
    receivedAt: new Map(),
    connected: false,
    welcomes: 0,
    lastWelcomeAt: undefined,
    playEventsSent: 0,
  }));

  let next = 0;
  const registerWorker = async () => {
    while (next < screens.length) {
      const index = next++;
      const screen = screens[index] as SimulatedScreen;
      const response = await (registrationClient ?? clientFor(index)).register(
        {
          hardwareId: screen.hardwareId,
          enrollmentKey: options.enrollmentKey,
          facts: {
            model: "AVTech simulator",
            osVersion: "simulated",
            playerVersion: "0.1.0-sim",
            hostname: screen.hardwareId,
          },
        },
        { signal: abort.signal },
      );
      if (response.outcome.case !== "enrolled") {
        throw new Error(`simulated screen ${screen.hardwareId} was not enrolled: check the enrollment key`);
      }
      screen.credentials = response.outcome.value;
      stats.registered++;
    }
  };
  try {
    await Promise.all(Array.from({ length: options.registrationConcurrency ?? 20 }, registerWorker));
  } finally {
    registrationSessions?.abort();
  }

  const heartbeatMs = options.heartbeatIntervalMs ?? 15_000;
  const sessions: http2.ClientHttp2Session[] = [];
  const sessionFor = (index: number) => {
    const slot = Math.floor(index / streamsPerConnection);
    let session = sessions[slot];
    if (!session || session.closed || session.destroyed) {
      session = http2.connect(options.baseUrl, options.localAddress ? connectFrom(options.localAddress) : {});
      // A failed session fails its streams, which reconnect with backoff on a fresh session.
      session.on("error", () => undefined);
      sessions[slot] = session;
    }
    return session;
  };
  const frames = new LeanFrames();
  let playsFrom: number | undefined;
  let playsStopped = false;
  const schedules = new Map<number, PlaySchedule>();
  const playsOf = (index: number): PlayBatches | undefined => {
    const plays = options.plays;
    if (!plays) return undefined;
    return {
      everyMs: plays.batchMs ?? 60_000,
      take: () => {
        if (playsFrom === undefined || playsStopped) return undefined;
        let schedule = schedules.get(index);
        if (!schedule) {
          schedule = new PlaySchedule(plays, playsFrom, index);
          schedules.set(index, schedule);
        }
        const message = schedule.take(Date.now());
        if (message?.message.case === "playEvents") {
          stats.playEventsSent += message.message.value.events.length;
          (screens[index] as SimulatedScreen).playEventsSent += message.message.value.events.length;
        }
        return message;
      },
    };
  };
  const reconnect = { ...defaultReconnectPolicy, ...options.reconnect };
  const running = screens.map((screen, index) =>
    options.streams === "lean"
      ? holdLeanStream(
          screen,
          () => sessionFor(index),
          frames,
          heartbeatMs,
          stats,
          abort.signal,
          playsOf(index),
          reconnect,
        )
      : holdStream(screen, clientFor(index), heartbeatMs, stats, abort.signal, playsOf(index), reconnect),
  );

  return {
    screens,
    stats: () => ({ ...stats }),
    whenConnected: async (timeoutMs) => {
      const deadline = Date.now() + timeoutMs;
      while (stats.connected < screens.length) {
        if (Date.now() > deadline) {
          throw new Error(
            `only ${stats.connected} of ${screens.length} simulated screens connected in ${timeoutMs} ms`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    startPlays: () => {
      if (!options.plays) throw new Error("startPlays needs plays in the simulator's options");
      playsFrom ??= Date.now();
    },
    stopPlays: () => {
      playsStopped = true;
    },
    stop: async () => {
      abort.abort();
      await Promise.allSettled(running);
      for (const session of sessions) session?.close();
    },
  };
}

/**
 * HTTP/2 session options whose TCP connection leaves from `localAddress` (Node's http2 typings do not
 * list `localAddress`, so the socket is made here).
 */
function connectFrom(localAddress: string): http2.ClientSessionOptions {
  return {
    createConnection: (authority: URL) =>
      net.connect({
        host: authority.hostname.replace(/^\[(.*)\]$/, "$1"),
        port: Number(authority.port || 80),
        localAddress,
      }),
  };
}

/**
 * Holds one screen's stream while `signal` lives: `session` runs one connection and calls
 * `welcomed` once the server accepts it; on any end it reconnects by {@link ReconnectPolicy}
 * (full jitter; a spread first retry after a stable stream; failed attempts back off from 1 s
 * doubling to 5 min), so a control-plane restart does not bring every screen back at once.
 */
async function holdConnected(
  screen: SimulatedScreen,
  stats: FleetSimulatorStats,
  signal: AbortSignal,
  reconnect: ReconnectPolicy,
  session: (welcomed: () => void) => Promise<void>,
): Promise<void> {
  let backoffMs = 1000;
  let welcomedAt: number | undefined;
  const welcomed = () => {
    screen.connected = true;
    screen.welcomes++;
    screen.lastWelcomeAt = Date.now();
    stats.connected++;
    welcomedAt = Date.now();
  };
  while (!signal.aborted) {
    welcomedAt = undefined;
    try {
      await session(welcomed);
    } catch {
      if (!signal.aborted) stats.streamErrors++;
    } finally {
      if (screen.connected) {
        screen.connected = false;
        stats.connected--;
      }
    }
    if (signal.aborted) return;
    let delayMs: number;
    if (welcomedAt !== undefined && Date.now() - welcomedAt >= reconnect.stableMs) {
      backoffMs = 1000;
      delayMs = Math.random() * reconnect.spreadMs;
    } else {
      delayMs = Math.random() * backoffMs;
      backoffMs = Math.min(backoffMs * 2, 300_000);
    }
    await new Promise((resolve) => setTimeout(resolve, delayMs));
  }
}

function playbackStateOf(screen: SimulatedScreen): PlaybackState {
  return screen.appliedVersion > 0n ? PlaybackState.PLAYING : PlaybackState.STANDBY;
}

function applyDesiredState(screen: SimulatedScreen, stats: FleetSimulatorStats, version: bigint): void {
  screen.receivedAt.set(version, Date.now());
  stats.desiredStatesReceived++;
  screen.appliedVersion = version;
}

/** One screen on a Connect client stream (what the real player's link does). */
function holdStream(
  screen: SimulatedScreen,
  client: Client<typeof DeviceService>,
  initialHeartbeatMs: number,
  stats: FleetSimulatorStats,
  signal: AbortSignal,
  plays: PlayBatches | undefined,
  reconnect: ReconnectPolicy,
): Promise<void> {
  return holdConnected(screen, stats, signal, reconnect, async (welcomed) => {
    const outbox = new AsyncQueue<ConnectRequest>();
    const stopPlays = plays ? startPlayBatches(plays, (message) => outbox.push(message)) : () => undefined;
    let heartbeatTimer: NodeJS.Timeout | undefined;
    const startHeartbeats = (intervalMs: number) => {
      clearInterval(heartbeatTimer);
      heartbeatTimer = setInterval(
        () => outbox.push(simulatedHeartbeat(playbackStateOf(screen), Math.random())),
        intervalMs,
      );
      heartbeatTimer.unref();
    };
    outbox.push(simulatedHello(screen));
    try {
      const token = screen.credentials?.deviceToken ?? "";
      for await (const response of client.connect(outbox, { signal, headers: { authorization: `Bearer ${token}` } })) {
        const message = response.message;
        switch (message.case) {
          case "welcome":
            welcomed();
            startHeartbeats(
              message.value.config?.heartbeatIntervalSeconds
                ? message.value.config.heartbeatIntervalSeconds * 1000
                : initialHeartbeatMs,
            );
            outbox.push(simulatedHeartbeat(playbackStateOf(screen), Math.random()));
            break;
          case "desiredState": {
            const version = message.value.version;
            applyDesiredState(screen, stats, version);
            outbox.push(
              create(ConnectRequestSchema, {
                message: {
                  case: "syncReport",
                  value: { version, result: { case: "applied", value: { appliedAt: timestampNow() } } },
                },
              }),
            );
            break;
          }
          case "command":
            stats.commandsAnswered++;
            outbox.push(
              create(ConnectRequestSchema, {
                message: {
                  case: "commandResult",
                  value: {
                    commandId: message.value.commandId,
                    status: CommandStatus.SUCCEEDED,
                    message: `simulated ${CommandKind[message.value.kind] ?? "command"}`,
                    completedAt: timestampNow(),
                  },
                },
              }),
            );
            break;
          case "config":
            if (message.value.heartbeatIntervalSeconds) startHeartbeats(message.value.heartbeatIntervalSeconds * 1000);
            break;
          case undefined:
            break;
        }
      }
    } finally {
      clearInterval(heartbeatTimer);
      stopPlays();
      outbox.close();
    }
  });
}

/** {@link holdStream} on a lean stream: same reconnect policy, no Connect client. */
function holdLeanStream(
  screen: SimulatedScreen,
  sessionFor: () => http2.ClientHttp2Session,
  frames: LeanFrames,
  heartbeatMs: number,
  stats: FleetSimulatorStats,
  signal: AbortSignal,
  plays: PlayBatches | undefined,
  reconnect: ReconnectPolicy,
): Promise<void> {
  return holdConnected(screen, stats, signal, reconnect, (welcomed) =>
    runLeanStream({
      plays,
      session: sessionFor(),
      token: screen.credentials?.deviceToken ?? "",
      hello: simulatedHello(screen),
      frames,
      heartbeatMs,
      isPlaying: () => screen.appliedVersion > 0n,
      signal,
      events: {
        welcome: welcomed,
        desiredState: (version) => applyDesiredState(screen, stats, version),
        commandAnswered: () => {
          stats.commandsAnswered++;
        },
      },
    }),
  );
}
