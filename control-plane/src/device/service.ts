import { randomUUID } from "node:crypto";
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
import { Orientation } from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import { create } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { authenticateScreen } from "../auth/device-token.ts";
import { newSecret } from "../auth/secrets.ts";
import type { ScreenRecord } from "../fleet/ports.ts";
import type { FleetRuntime } from "../fleet/runtime.ts";
import { emptyStatus } from "../fleet/view.ts";
import { formatPairingCode, hashSecret, newPairingCode } from "../pairing/index.ts";
import { peerAddress } from "./context.ts";

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

/**
 * DeviceService: registration (pairing code or enrollment key), the pairing poll, and the
 * screen's bidi stream.
 */
export function createDeviceService(rt: FleetRuntime): ServiceImpl<typeof DeviceService> {
  return {
    register: (request, context) => register(rt, request, context),
    completePairing: (request, context) => completePairing(rt, request, context),
    connect: (requests, context) => connect(rt, requests, context),
  };
}

async function register(
  rt: FleetRuntime,
  request: RegisterRequest,
  context: HandlerContext,
): Promise<RegisterResponse> {
  const ip = peerAddress(context);
  rt.registrationLimiter.check(ip);
  if (!printable.test(request.hardwareId)) {
    throw new ConnectError("hardware_id must be 1..128 printable ASCII characters", Code.InvalidArgument);
  }
  const now = rt.clock.now();
  if (request.enrollmentKey !== "") {
    const key = await rt.stores.enrollmentKeys.use(hashSecret(request.enrollmentKey), now);
    if (!key) {
      throw new ConnectError(
        "enrollment key is unknown, expired or used up: ask the fleet manager for a new key",
        Code.Unauthenticated,
      );
    }
    const token = newSecret("avd");
    const existing = await rt.stores.screens.findByHardwareId(key.tenantId, request.hardwareId);
    let screen: ScreenRecord;
    if (existing) {
      // A re-flashed board enrolls again: it gets a fresh token and the old one stops working.
      await rt.stores.screens.setTokenHash(key.tenantId, existing.id, hashSecret(token));
      rt.registry.disconnect(existing.id, new ConnectError("the screen enrolled again", Code.Unauthenticated));
      screen = existing;
    } else {
      screen = newScreen(rt, {
        tenantId: key.tenantId,
        hardwareId: request.hardwareId,
        name: request.facts?.hostname || request.hardwareId,
        groupId: key.groupId,
        facts: request.facts,
        now,
        tokenHash: hashSecret(token),
      });
      await rt.stores.screens.create(screen);
    }
    rt.logger.info({ screenId: screen.id, tenantId: key.tenantId, enrollmentKeyId: key.id, ip }, "screen enrolled");
    rt.broadcaster.changed(key.tenantId, screen.id);
    return create(RegisterResponseSchema, {
      outcome: {
        case: "enrolled",
        value: { deviceId: screen.id, deviceToken: token, screenName: screen.name },
      },
    });
  }
  const secret = newSecret("avp");
  const expiresAt = new Date(now.getTime() + rt.config.pairingTtlSeconds * 1000);
  for (let attempt = 0; attempt < 5; attempt++) {
    const code = newPairingCode();
    const created = await rt.stores.pairings.create({
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
    rt.logger.info({ hardwareId: request.hardwareId, ip }, "pairing code issued");
    return create(RegisterResponseSchema, {
      outcome: {
        case: "pairing",
        value: {
          pairingCode: formatPairingCode(code),
          pairingSecret: secret,
          expiresAt: timestampFromDate(expiresAt),
          pollIntervalSeconds: rt.config.pairingPollSeconds,
        },
      },
    });
  }
  throw new ConnectError("could not draw a free pairing code; retry", Code.Unavailable);
}

async function completePairing(
  rt: FleetRuntime,
  request: CompletePairingRequest,
  context: HandlerContext,
): Promise<CompletePairingResponse> {
  rt.registrationLimiter.check(peerAddress(context));
  const secretHash = hashSecret(request.pairingSecret);
  const pairing = await rt.stores.pairings.findBySecretHash(secretHash);
  const now = rt.clock.now();
  if (!pairing || (!pairing.claimedScreenId && pairing.expiresAt <= now)) {
    throw new ConnectError("pairing is unknown or expired: call Register for a new code", Code.NotFound);
  }
  if (!pairing.claimedScreenId || !pairing.claimedTenantId) {
    return create(CompletePairingResponseSchema, {
      outcome: { case: "waiting", value: { expiresAt: timestampFromDate(pairing.expiresAt) } },
    });
  }
  if (!(await rt.stores.pairings.markDelivered(secretHash))) {
    throw new ConnectError(
      "the credentials of this pairing were already handed out: call Register again",
      Code.FailedPrecondition,
    );
  }
  const token = newSecret("avd");
  const screen = await rt.stores.screens.get(pairing.claimedTenantId, pairing.claimedScreenId);
  if (!screen || !(await rt.stores.screens.setTokenHash(screen.tenantId, screen.id, hashSecret(token)))) {
    throw new ConnectError("the claimed screen was deleted: call Register again", Code.NotFound);
  }
  rt.logger.info({ screenId: screen.id, tenantId: screen.tenantId }, "pairing completed");
  return create(CompletePairingResponseSchema, {
    outcome: { case: "claimed", value: { deviceId: screen.id, deviceToken: token, screenName: screen.name } },
  });
}

/** Builds a new screen record with defaults for everything the claim or key does not say. */
export function newScreen(
  rt: FleetRuntime,
  fields: {
    tenantId: string;
    hardwareId: string;
    name: string;
    groupId: string;
    tags?: string[];
    timezone?: string;
    facts: RegisterRequest["facts"];
    now: Date;
    tokenHash: string | undefined;
    firstSeenAt?: Date;
  },
): ScreenRecord {
  return {
    id: randomUUID(),
    tenantId: fields.tenantId,
    hardwareId: fields.hardwareId,
    name: fields.name,
    groupId: fields.groupId,
    tags: fields.tags ?? [],
    timezone: fields.timezone || rt.config.defaultTimezone,
    volumePercent: 100,
    orientation: Orientation.LANDSCAPE,
    displayHours: [],
    model: fields.facts?.model ?? "",
    osVersion: fields.facts?.osVersion ?? "",
    playerVersion: fields.facts?.playerVersion ?? "",
    firstSeenAt: fields.firstSeenAt ?? fields.now,
    claimedAt: fields.now,
    tokenHash: fields.tokenHash,
    revision: 1,
  };
}

async function* connect(
  rt: FleetRuntime,
  requests: AsyncIterable<ConnectRequest>,
  context: HandlerContext,
): AsyncGenerator<ConnectResponse> {
  const { screen, tokenHash } = await authenticateScreen(rt.stores.screens, context.requestHeader.get("authorization"));
  const iterator = requests[Symbol.asyncIterator]();
  const first = await beforeDeadline(iterator.next(), rt.config.helloTimeoutMs);
  if (first.done || first.value.message.case !== "hello") {
    throw new ConnectError("the first message on the stream must be hello", Code.InvalidArgument);
  }
  const hello = first.value.message.value;
  const screenId = screen.id;
  const tenantId = screen.tenantId;
  const interval = rt.config.heartbeatIntervalSeconds;
  const { session, detach } = rt.registry.attach(screenId, tenantId);
  rt.metrics.streams.inc();
  const log = rt.logger.child({ screenId, tenantId });
  try {
    await rt.stores.screens.updateVersions(screenId, {
      playerVersion: hello.playerVersion,
      osVersion: hello.osVersion,
    });
    const status = (await rt.stores.statuses.get(screenId)) ?? emptyStatus(screenId, interval);
    await rt.stores.statuses.patch(screenId, {
      lastSeenAt: rt.clock.now(),
      streamOpen: true,
      heartbeatIntervalSeconds: interval,
      ipAddress: peerAddress(context),
      ...(hello.appliedVersion > status.appliedVersion ? { appliedVersion: hello.appliedVersion } : {}),
    });
    rt.presence.seen(screenId, tenantId, interval);
    session.outbox.push(
      create(ConnectResponseSchema, {
        message: {
          case: "welcome",
          value: {
            deviceId: screenId,
            screenName: screen.name,
            serverTime: timestampFromDate(rt.clock.now()),
            config: {
              heartbeatIntervalSeconds: interval,
              playEventBatchSeconds: rt.config.playEventBatchSeconds,
            },
          },
        },
      }),
    );
    rt.delivery.attached(screenId, { tenantId, tokenHash, sentVersion: hello.appliedVersion });
    await rt.delivery.deliver([screenId]);
    log.debug({ appliedVersion: hello.appliedVersion }, "stream opened");
    const reading = readStream(rt, { screenId, tenantId }, iterator).then(
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
    rt.metrics.streams.dec();
    rt.delivery.detached(screenId);
    if (!rt.registry.holds(screenId)) {
      rt.presence.gone(screenId);
      await rt.stores.statuses
        .patch(screenId, { streamOpen: false })
        .catch((error: unknown) => log.warn({ err: error }, "could not record the closed stream"));
      rt.broadcaster.changed(tenantId, screenId);
    }
    log.debug("stream closed");
  }
}

interface StreamScreen {
  screenId: string;
  tenantId: string;
}

async function readStream(rt: FleetRuntime, who: StreamScreen, iterator: AsyncIterator<ConnectRequest>): Promise<void> {
  const screenshots = new ScreenshotAssembler(rt.config.maxScreenshotBytes);
  for (;;) {
    const next = await iterator.next();
    if (next.done) return;
    if (!rt.registry.holds(who.screenId)) return;
    await handleMessage(rt, who, next.value, screenshots);
  }
}

async function handleMessage(
  rt: FleetRuntime,
  { screenId, tenantId }: StreamScreen,
  request: ConnectRequest,
  screenshots: ScreenshotAssembler,
): Promise<void> {
  const now = rt.clock.now();
  rt.presence.seen(screenId, tenantId, rt.config.heartbeatIntervalSeconds);
  const message = request.message;
  switch (message.case) {
    case "heartbeat": {
      const health = message.value.health;
      await rt.stores.statuses.patch(screenId, {
        lastSeenAt: now,
        lastHealth: health,
        playback: message.value.playback,
      });
      if (health) await rt.stores.health.append(screenId, { at: now, health });
      break;
    }
    case "syncReport": {
      const report = message.value;
      if (report.result.case === "applied") {
        // One write (group-committed with other screens' acks), no read first: acks of a publish
        // to the whole fleet arrive together.
        const raised = await rt.stores.statuses.recordApplied(screenId, report.version, now);
        if (raised?.desiredAt && raised.desiredVersion === report.version) {
          rt.metrics.publishToAck.observe((now.getTime() - raised.desiredAt.getTime()) / 1000);
        }
      } else if (report.result.case === "failed") {
        const failure = report.result.value;
        const reason = SyncFailureReason[failure.reason] ?? "UNSPECIFIED";
        rt.metrics.syncFailures.inc({ reason });
        await rt.stores.statuses.patch(screenId, {
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
      await rt.stores.playEvents.insertMany(tenantId, screenId, message.value.events);
      return;
    case "commandResult": {
      const result = message.value;
      const final = [CommandStatus.SUCCEEDED, CommandStatus.FAILED, CommandStatus.EXPIRED];
      if (!final.includes(result.status)) {
        throw new ConnectError("command_result status must be SUCCEEDED, FAILED or EXPIRED", Code.InvalidArgument);
      }
      await rt.stores.commands.update(screenId, result.commandId, {
        status: result.status,
        resultMessage: result.message.slice(0, 1000),
        completedAt: result.completedAt ? timestampDate(result.completedAt) : now,
      });
      rt.logger.info({ screenId, commandId: result.commandId, status: CommandStatus[result.status] }, "command result");
      return;
    }
    case "screenshotChunk": {
      const png = screenshots.add(message.value);
      if (png) {
        await rt.stores.screenshots.save(message.value.commandId, png, now);
        await rt.stores.commands.update(screenId, message.value.commandId, { hasScreenshot: true });
      }
      return;
    }
    case "hello":
      throw new ConnectError("hello may only be the first message", Code.InvalidArgument);
    case undefined:
      return;
  }
  rt.broadcaster.changed(tenantId, screenId);
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
