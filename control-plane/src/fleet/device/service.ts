import { CommandStatus } from "@avtech/proto/gen/avtech/device/v1/command_pb.js";
import {
  type CompletePairingRequest,
  type CompletePairingResponse,
  CompletePairingResponseSchema,
  type ConnectRequest,
  type ConnectResponse,
  ConnectResponseSchema,
  type DeviceService,
  type RegisterRequest,
  type RegisterResponse,
  RegisterResponseSchema,
  SyncFailureReason,
} from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { UpdatePhase, type UpdateReport } from "@avtech/proto/gen/avtech/device/v1/update_pb.js";
import { create } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { Logger } from "pino";
import { newSecret } from "../../platform/auth/secrets.ts";
import type { Clock } from "../../platform/clock.ts";
import type { RequestLimiter } from "../../platform/rate-limit/index.ts";
import { peerAddress } from "../../platform/server/peer.ts";
import type { FleetBroadcaster } from "../fleet/broadcaster.ts";
import type { FleetConfig } from "../fleet/config.ts";
import type { FleetMetrics } from "../fleet/metrics.ts";
import { newScreen } from "../fleet/new-screen.ts";
import type { FleetStores, ScreenRecord } from "../fleet/ports.ts";
import type { Presence } from "../fleet/presence.ts";
import { emptyStatus } from "../fleet/view.ts";
import type { SessionRegistry } from "../live/index.ts";
import { formatPairingCode, hashSecret, newPairingCode } from "../pairing/index.ts";
import type { LiveDelivery } from "./delivery.ts";
import { authenticateScreen } from "./device-token.ts";

const printable = /^[\x21-\x7e]{1,128}$/;
/** Resolves like `promise`, or fails with DEADLINE_EXCEEDED when hello takes too long. */
async function beforeDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new ConnectError(`send hello within ${ms / 1000} s of opening the stream`, Code.DeadlineExceeded)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** The screen an OS update message comes from, with the image version its stream's Hello named. */
export interface UpdatingScreen {
  screenId: string;
  tenantId: string;
  helloImageVersion: string;
}

/** Where the stream hands what concerns OS updates (the update feature's rollout engine). */
export interface UpdateListener {
  /** After every Hello: a screen already running a release it waits for is done at once. */
  hello(screen: UpdatingScreen): Promise<void>;
  /** Each UpdateReport (phase already checked to be one the contract defines). */
  report(screen: UpdatingScreen, report: UpdateReport): Promise<unknown>;
}

/** What {@link createDeviceService} uses, and nothing more. */
export interface DeviceServiceDeps {
  stores: Pick<
    FleetStores,
    "screens" | "pairings" | "enrollmentKeys" | "statuses" | "commands" | "screenshots" | "health" | "playEvents"
  >;
  config: Pick<
    FleetConfig,
    | "heartbeatIntervalSeconds"
    | "playEventBatchSeconds"
    | "pairingTtlSeconds"
    | "pairingPollSeconds"
    | "defaultTimezone"
    | "maxScreenshotBytes"
    | "helloTimeoutMs"
    | "healthSampleSeconds"
  >;
  clock: Clock;
  logger: Logger;
  /** The streams this process holds: one per screen. */
  registry: Pick<SessionRegistry, "attach" | "holds" | "disconnect">;
  /** Sends an opened stream its desired state and queued commands. */
  delivery: Pick<LiveDelivery, "attached" | "detached" | "deliver">;
  /** Online/offline of the streams held here. */
  presence: Pick<Presence, "seen" | "gone">;
  /** The live view: told about every screen whose state a message changed. */
  broadcaster: Pick<FleetBroadcaster, "changed">;
  metrics: Pick<FleetMetrics, "streams" | "publishToAck" | "syncsApplied" | "syncFailures">;
  /** Rate limit of the unauthenticated calls (Register, CompletePairing), per client IP and in total. */
  registrationLimiter: Pick<RequestLimiter, "check">;
  /** OS updates (src/fleet/update); without it update reports are dropped (a plane built without that feature). */
  updates?: UpdateListener;
}

/**
 * DeviceService: registration (pairing code or enrollment key), the pairing poll, and the
 * screen's bidi stream.
 */
export function createDeviceService(deps: DeviceServiceDeps): ServiceImpl<typeof DeviceService> {
  return {
    register: (request, context) => register(deps, request, context),
    completePairing: (request, context) => completePairing(deps, request, context),
    connect: (requests, context) => connect(deps, requests, context),
  };
}

async function register(
  deps: DeviceServiceDeps,
  request: RegisterRequest,
  context: HandlerContext,
): Promise<RegisterResponse> {
  const ip = peerAddress(context);
  deps.registrationLimiter.check(ip);
  if (!printable.test(request.hardwareId)) {
    throw new ConnectError("hardware_id must be 1..128 printable ASCII characters", Code.InvalidArgument);
  }
  const now = deps.clock.now();
  if (request.enrollmentKey !== "") {
    const key = await deps.stores.enrollmentKeys.use(hashSecret(request.enrollmentKey), now);
    if (!key) {
      throw new ConnectError(
        "enrollment key is unknown, expired or used up: ask the fleet manager for a new key",
        Code.Unauthenticated,
      );
    }
    const token = newSecret("avd");
    const existing = await deps.stores.screens.findByHardwareId(key.tenantId, request.hardwareId);
    let screen: ScreenRecord;
    if (existing) {
      // A re-flashed board enrolls again: it gets a fresh token and the old one stops working.
      await deps.stores.screens.setTokenHash(key.tenantId, existing.id, hashSecret(token));
      deps.registry.disconnect(existing.id, new ConnectError("the screen enrolled again", Code.Unauthenticated));
      screen = existing;
    } else {
      screen = newScreen({
        tenantId: key.tenantId,
        hardwareId: request.hardwareId,
        name: request.facts?.hostname || request.hardwareId,
        groupId: key.groupId,
        timezone: deps.config.defaultTimezone,
        facts: request.facts,
        now,
        tokenHash: hashSecret(token),
      });
      await deps.stores.screens.create(screen);
    }
    deps.logger.info({ screenId: screen.id, tenantId: key.tenantId, enrollmentKeyId: key.id, ip }, "screen enrolled");
    deps.broadcaster.changed(key.tenantId, screen.id);
    return create(RegisterResponseSchema, {
      outcome: {
        case: "enrolled",
        value: { deviceId: screen.id, deviceToken: token, screenName: screen.name },
      },
    });
  }
  const secret = newSecret("avp");
  const expiresAt = new Date(now.getTime() + deps.config.pairingTtlSeconds * 1000);
  for (let attempt = 0; attempt < 5; attempt++) {
    const code = newPairingCode();
    const created = await deps.stores.pairings.create({
      code,
      secretHash: hashSecret(secret),
      hardwareId: request.hardwareId,
      facts: request.facts,
      ip,
      createdAt: now,
      expiresAt,
      claimedTenantId: undefined,
      claimedScreenId: undefined,
      delivered: false,
    });
    if (!created) continue;
    deps.logger.info({ hardwareId: request.hardwareId, ip }, "pairing code issued");
    return create(RegisterResponseSchema, {
      outcome: {
        case: "pairing",
        value: {
          pairingCode: formatPairingCode(code),
          pairingSecret: secret,
          expiresAt: timestampFromDate(expiresAt),
          pollIntervalSeconds: deps.config.pairingPollSeconds,
        },
      },
    });
  }
  throw new ConnectError("could not draw a free pairing code; retry", Code.Unavailable);
}

async function completePairing(
  deps: DeviceServiceDeps,
  request: CompletePairingRequest,
  context: HandlerContext,
): Promise<CompletePairingResponse> {
  deps.registrationLimiter.check(peerAddress(context));
  const secretHash = hashSecret(request.pairingSecret);
  const pairing = await deps.stores.pairings.findBySecretHash(secretHash);
  const now = deps.clock.now();
  if (!pairing || (!pairing.claimedScreenId && pairing.expiresAt <= now)) {
    throw new ConnectError("pairing is unknown or expired: call Register for a new code", Code.NotFound);
  }
  if (!pairing.claimedScreenId || !pairing.claimedTenantId) {
    return create(CompletePairingResponseSchema, {
      outcome: { case: "waiting", value: { expiresAt: timestampFromDate(pairing.expiresAt) } },
    });
  }
  if (!(await deps.stores.pairings.markDelivered(secretHash))) {
    throw new ConnectError(
      "the credentials of this pairing were already handed out: call Register again",
      Code.FailedPrecondition,
    );
  }
  const token = newSecret("avd");
  const screen = await deps.stores.screens.get(pairing.claimedTenantId, pairing.claimedScreenId);
  if (!screen || !(await deps.stores.screens.setTokenHash(screen.tenantId, screen.id, hashSecret(token)))) {
    throw new ConnectError("the claimed screen was deleted: call Register again", Code.NotFound);
  }
  deps.logger.info({ screenId: screen.id, tenantId: screen.tenantId }, "pairing completed");
  return create(CompletePairingResponseSchema, {
    outcome: { case: "claimed", value: { deviceId: screen.id, deviceToken: token, screenName: screen.name } },
  });
}

async function* connect(
  deps: DeviceServiceDeps,
  requests: AsyncIterable<ConnectRequest>,
  context: HandlerContext,
): AsyncGenerator<ConnectResponse> {
  const { screen, tokenHash } = await authenticateScreen(
    deps.stores.screens,
    context.requestHeader.get("authorization"),
  );
  const iterator = requests[Symbol.asyncIterator]();
  const first = await beforeDeadline(iterator.next(), deps.config.helloTimeoutMs);
  if (first.done || first.value.message.case !== "hello") {
    throw new ConnectError("the first message on the stream must be hello", Code.InvalidArgument);
  }
  const hello = first.value.message.value;
  const screenId = screen.id;
  const tenantId = screen.tenantId;
  const interval = deps.config.heartbeatIntervalSeconds;
  const { session, detach } = deps.registry.attach(screenId, tenantId);
  deps.metrics.streams.inc();
  const log = deps.logger.child({ screenId, tenantId });
  try {
    await deps.stores.screens.updateVersions(screenId, {
      playerVersion: hello.playerVersion,
      osVersion: hello.osVersion,
    });
    const status = (await deps.stores.statuses.get(screenId)) ?? emptyStatus(screenId, interval);
    await deps.stores.statuses.patch(screenId, {
      lastSeenAt: deps.clock.now(),
      streamOpen: true,
      heartbeatIntervalSeconds: interval,
      ipAddress: peerAddress(context),
      imageVersion: hello.imageVersion.slice(0, 200),
      bootedSlot: hello.bootedSlot.slice(0, 32),
      ...(hello.appliedVersion > status.appliedVersion ? { appliedVersion: hello.appliedVersion } : {}),
    });
    deps.presence.seen(screenId, tenantId, interval);
    session.outbox.push(
      create(ConnectResponseSchema, {
        message: {
          case: "welcome",
          value: {
            deviceId: screenId,
            screenName: screen.name,
            serverTime: timestampFromDate(deps.clock.now()),
            config: {
              heartbeatIntervalSeconds: interval,
              playEventBatchSeconds: deps.config.playEventBatchSeconds,
            },
          },
        },
      }),
    );
    deps.delivery.attached(screenId, { tenantId, tokenHash, sentVersion: hello.appliedVersion });
    await deps.delivery.deliver([screenId]);
    const who: StreamScreen = { screenId, tenantId, helloImageVersion: hello.imageVersion };
    await deps.updates
      ?.hello(who)
      .catch((error: unknown) =>
        log.error({ err: error }, "could not check the screen's OS image against its rollouts"),
      );
    log.debug({ appliedVersion: hello.appliedVersion, imageVersion: hello.imageVersion }, "stream opened");
    const reading = readStream(deps, who, iterator).then(
      () => session.outbox.close(),
      (error: unknown) => {
        const failure = ConnectError.from(error);
        log.info({ code: Code[failure.code], err: failure }, "stream ended with an error");
        session.outbox.fail(failure);
      },
    );
    yield* session.outbox;
    await reading;
  } finally {
    detach();
    deps.metrics.streams.dec();
    deps.delivery.detached(screenId);
    if (!deps.registry.holds(screenId)) {
      deps.presence.gone(screenId);
      await deps.stores.statuses
        .patch(screenId, { streamOpen: false })
        .catch((error: unknown) => log.warn({ err: error }, "could not record the closed stream"));
      deps.broadcaster.changed(tenantId, screenId);
    }
    log.debug("stream closed");
  }
}

/** How much earlier than healthSampleSeconds a heartbeat may come and still be stored as a sample. */
const healthSampleSlackMs = 1000;

type StreamScreen = UpdatingScreen;

/** What one stream's handler remembers between messages. */
interface StreamState {
  screenshots: ScreenshotAssembler;
  /** When this stream's last heartbeat health was stored as a sample (epoch ms). */
  lastHealthSampleMs: number;
}

async function readStream(
  deps: DeviceServiceDeps,
  who: StreamScreen,
  iterator: AsyncIterator<ConnectRequest>,
): Promise<void> {
  const stream: StreamState = {
    screenshots: new ScreenshotAssembler(deps.config.maxScreenshotBytes),
    lastHealthSampleMs: Number.NEGATIVE_INFINITY,
  };
  for (;;) {
    const next = await iterator.next();
    if (next.done) return;
    if (!deps.registry.holds(who.screenId)) return;
    await handleMessage(deps, who, next.value, stream);
  }
}

async function handleMessage(
  deps: DeviceServiceDeps,
  who: StreamScreen,
  request: ConnectRequest,
  stream: StreamState,
): Promise<void> {
  const { screenId, tenantId } = who;
  const now = deps.clock.now();
  deps.presence.seen(screenId, tenantId, deps.config.heartbeatIntervalSeconds);
  const message = request.message;
  switch (message.case) {
    case "heartbeat": {
      const health = message.value.health;
      await deps.stores.statuses.patch(screenId, {
        lastSeenAt: now,
        lastHealth: health,
        playback: message.value.playback,
      });
      // Every heartbeat updates the live status; the history keeps one sample per healthSampleSeconds. The second
      // of slack keeps a heartbeat that arrives a little early from pushing the sample to the next one.
      const sinceSampleMs = now.getTime() - stream.lastHealthSampleMs;
      if (health && sinceSampleMs + healthSampleSlackMs >= deps.config.healthSampleSeconds * 1000) {
        await deps.stores.health.append(screenId, { at: now, health });
        stream.lastHealthSampleMs = now.getTime();
      }
      break;
    }
    case "syncReport": {
      const report = message.value;
      if (report.result.case === "applied") {
        // One write (group-committed with other screens' acks), no read first: acks of a publish
        // to the whole fleet arrive together.
        const raised = await deps.stores.statuses.recordApplied(screenId, report.version, now);
        // Counted once per version a screen reaches (a resent report raises nothing).
        if (raised) deps.metrics.syncsApplied.inc();
        if (raised?.desiredAt && raised.desiredVersion === report.version) {
          deps.metrics.publishToAck.observe((now.getTime() - raised.desiredAt.getTime()) / 1000);
        }
      } else if (report.result.case === "failed") {
        const failure = report.result.value;
        const reason = SyncFailureReason[failure.reason] ?? "UNSPECIFIED";
        deps.metrics.syncFailures.inc({ reason });
        await deps.stores.statuses.patch(screenId, {
          lastSeenAt: now,
          lastFailedVersion: report.version,
          lastSyncError: `${reason}: ${failure.message}`.slice(0, 1000),
        });
      }
      break;
    }
    case "playEvents":
      if (message.value.events.length > 500) {
        throw new ConnectError("at most 500 play events per message", Code.InvalidArgument);
      }
      await deps.stores.playEvents.insertMany(tenantId, screenId, message.value.events);
      return;
    case "commandResult": {
      const result = message.value;
      const final = [CommandStatus.SUCCEEDED, CommandStatus.FAILED, CommandStatus.EXPIRED];
      if (!final.includes(result.status)) {
        throw new ConnectError("command_result status must be SUCCEEDED, FAILED or EXPIRED", Code.InvalidArgument);
      }
      await deps.stores.commands.update(screenId, result.commandId, {
        status: result.status,
        resultMessage: result.message.slice(0, 1000),
        completedAt: result.completedAt ? timestampDate(result.completedAt) : now,
      });
      deps.logger.info(
        { screenId, commandId: result.commandId, status: CommandStatus[result.status] },
        "command result",
      );
      return;
    }
    case "screenshotChunk": {
      const png = stream.screenshots.add(message.value);
      // Only a command sent to this screen gets its picture: the screenshots table is keyed by command
      // id alone, so without this check a screen could overwrite another screen's (another tenant's) one.
      if (png && (await deps.stores.commands.update(screenId, message.value.commandId, {}))) {
        await deps.stores.screenshots.save(message.value.commandId, png, now);
        await deps.stores.commands.update(screenId, message.value.commandId, { hasScreenshot: true });
      }
      return;
    }
    case "updateReport": {
      const report = message.value;
      if (!(report.phase in UpdatePhase) || report.phase === UpdatePhase.UNSPECIFIED) {
        throw new ConnectError(
          `update_report.phase must be an UpdatePhase other than UNSPECIFIED, got ${report.phase}`,
          Code.InvalidArgument,
        );
      }
      if (deps.updates) await deps.updates.report(who, report);
      else deps.logger.debug({ screenId }, "update report dropped: this control plane has no OS updates");
      return;
    }
    case "hello":
      throw new ConnectError("hello may only be the first message", Code.InvalidArgument);
    case undefined:
      return;
  }
  deps.broadcaster.changed(tenantId, screenId);
}

/** Collects in-order screenshot chunks per command, bounded in size. */
class ScreenshotAssembler {
  readonly #max: number;
  readonly #parts = new Map<string, { chunks: Uint8Array[]; bytes: number }>();

  constructor(max: number) {
    this.#max = max;
  }

  /** Adds a chunk; returns the whole PNG on the last one. */
  add(chunk: { commandId: string; offset: bigint; data: Uint8Array; last: boolean }): Uint8Array | undefined {
    const parts = this.#parts.get(chunk.commandId) ?? { chunks: [], bytes: 0 };
    if (BigInt(parts.bytes) !== chunk.offset) {
      this.#parts.delete(chunk.commandId);
      throw new ConnectError("screenshot chunks must arrive in order without gaps", Code.InvalidArgument);
    }
    parts.chunks.push(chunk.data);
    parts.bytes += chunk.data.length;
    if (parts.bytes > this.#max) {
      this.#parts.delete(chunk.commandId);
      throw new ConnectError(`screenshot is larger than ${this.#max} bytes`, Code.ResourceExhausted);
    }
    if (!chunk.last) {
      this.#parts.set(chunk.commandId, parts);
      return undefined;
    }
    this.#parts.delete(chunk.commandId);
    return Buffer.concat(parts.chunks);
  }
}
