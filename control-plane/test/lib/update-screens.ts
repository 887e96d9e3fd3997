import { AsyncQueue } from "@avtech/io";
import {
  type ConnectRequest,
  ConnectRequestSchema,
  DeviceService,
} from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import type { DesiredState } from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import {
  type OsUpdate,
  UpdateFailureReason,
  UpdatePhase,
  type UpdateReportSchema,
} from "@avtech/proto/gen/avtech/device/v1/update_pb.js";
import { FleetService } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { eventually } from "./fleet-device.ts";
import type { TestTenant } from "./test-app.ts";
import type { UpdateApp } from "./update-app.ts";

/**
 * A screen that speaks the device stream as a player with RAUC would: it says Hello with its
 * image version and booted slot, applies (acks) every desired state, and sends the UpdateReports
 * a test tells it to. Installing is the test's script ({@link SimulatedUpdateScreen.install}), not
 * a real `rauc install`: what is under test is the control plane's side.
 */
export class SimulatedUpdateScreen {
  readonly id: string;
  readonly name: string;
  readonly #token: string;
  readonly #app: UpdateApp;
  imageVersion: string;
  bootedSlot: string;
  /** The latest desired state received (kept across reconnects, like the player's state file). */
  state: DesiredState | undefined;
  #outbox: AsyncQueue<ConnectRequest> | undefined;
  #abort: AbortController | undefined;
  #ended: Promise<void> | undefined;
  #sessions: Http2SessionManager | undefined;
  #sentinel = 0;
  /** The error the last stream ended with (undefined while open, or after a clean end). */
  streamError: ConnectError | undefined;

  constructor(app: UpdateApp, credentials: { id: string; name: string; token: string }, image: string) {
    this.#app = app;
    this.id = credentials.id;
    this.name = credentials.name;
    this.#token = credentials.token;
    this.imageVersion = image;
    this.bootedSlot = "A";
  }

  /** The OS update the latest desired state asks for, if any. */
  get osUpdate(): OsUpdate | undefined {
    return this.state?.osUpdate;
  }

  /** Opens the stream to the app's current address; resolves once Welcome arrived. */
  async connect(): Promise<void> {
    const outbox = new AsyncQueue<ConnectRequest>();
    const abort = new AbortController();
    this.#outbox = outbox;
    this.#abort = abort;
    this.#sessions = new Http2SessionManager(this.#app.addresses.http2Url);
    const client = createClient(
      DeviceService,
      createGrpcTransport({ baseUrl: this.#app.addresses.http2Url, sessionManager: this.#sessions }),
    );
    outbox.push(
      create(ConnectRequestSchema, {
        message: {
          case: "hello",
          value: {
            playerVersion: "1.0.0-test",
            osVersion: "AVTech OS",
            appliedVersion: this.state?.version ?? 0n,
            imageVersion: this.imageVersion,
            bootedSlot: this.bootedSlot,
            startedAt: timestampNow(),
            deviceTime: timestampNow(),
          },
        },
      }),
    );
    let welcomed: () => void = () => undefined;
    const welcome = new Promise<void>((resolve) => {
      welcomed = resolve;
    });
    this.streamError = undefined;
    this.#ended = (async () => {
      try {
        for await (const response of client.connect(outbox, {
          signal: abort.signal,
          headers: { authorization: `Bearer ${this.#token}` },
        })) {
          const message = response.message;
          if (message.case === "welcome") welcomed();
          if (message.case === "desiredState") {
            this.state = message.value;
            outbox.push(
              create(ConnectRequestSchema, {
                message: {
                  case: "syncReport",
                  value: {
                    version: message.value.version,
                    result: { case: "applied", value: { appliedAt: timestampNow() } },
                  },
                },
              }),
            );
          }
        }
      } catch (error) {
        // Hung up by the test, by a stopping control plane, or refused by the server.
        if (!abort.signal.aborted) this.streamError = ConnectError.from(error);
      }
    })();
    await Promise.race([
      welcome,
      this.#ended.then(() => {
        throw new Error(`screen ${this.name}: the stream ended before Welcome`);
      }),
    ]);
  }

  /** Sends an UpdateReport on the open stream. */
  report(fields: Omit<MessageInitShape<typeof UpdateReportSchema>, "reportedAt" | "$typeName">): void {
    if (!this.#outbox) throw new Error(`screen ${this.name} has no stream`);
    this.#outbox.push(
      create(ConnectRequestSchema, {
        message: { case: "updateReport", value: { ...fields, reportedAt: timestampNow() } },
      }),
    );
  }

  /**
   * Resolves once the server handled everything sent so far on this stream: the server handles a
   * stream's messages in order, so a marker written after them (a failure report for version 0,
   * which changes no sync status) being stored means they were all handled.
   */
  async settle(): Promise<void> {
    if (!this.#outbox) throw new Error(`screen ${this.name} has no stream`);
    const marker = `settle ${++this.#sentinel}`;
    this.#outbox.push(
      create(ConnectRequestSchema, {
        message: {
          case: "syncReport",
          value: { version: 0n, result: { case: "failed", value: { message: marker } } },
        },
      }),
    );
    await eventually(async () => {
      const [row] = await this.#app.query<{ last_sync_error: string }>(
        "select last_sync_error from screen_status where screen_id = $1",
        [this.id],
      );
      return row?.last_sync_error.endsWith(marker) === true;
    }, 10_000);
  }

  /** GETs `url` (a bundle) with this screen's device token, and an optional Range header. */
  fetchBundle(url: string, range?: string): Promise<Response> {
    return fetch(url, { headers: { authorization: `Bearer ${this.#token}`, ...(range ? { range } : {}) } });
  }

  /** Ends the stream (as a reboot or a network loss does). */
  async disconnect(): Promise<void> {
    this.#outbox?.close();
    this.#abort?.abort();
    await this.#ended;
    this.#sessions?.abort();
    this.#outbox = undefined;
  }

  /** Reboots into `imageVersion` on `slot`: the stream ends, and a new one says Hello with the new image. */
  async reboot(imageVersion: string, slot: string): Promise<void> {
    await this.disconnect();
    this.imageVersion = imageVersion;
    this.bootedSlot = slot;
    await this.connect();
  }

  /**
   * Plays a player's install of the offered update: DOWNLOADING (twice, with progress),
   * INSTALLING, then by `outcome`: FAILED (no space) before rebooting; or REBOOTING, a reboot into
   * slot B with the new image and HEALTHY; or REBOOTING, a reboot that comes back on the old image
   * (the bootloader fell back) and ROLLED_BACK.
   */
  async install(outcome: "healthy" | "failed" | "rolled-back" = "healthy"): Promise<void> {
    const update = this.osUpdate;
    if (!update) throw new Error(`screen ${this.name} is offered no update`);
    const total = update.bundle?.sizeBytes ?? 0n;
    const about = { rolloutId: update.rolloutId, version: update.version, bytesTotal: total };
    this.report({ ...about, phase: UpdatePhase.DOWNLOADING, bytesDone: 0n });
    this.report({ ...about, phase: UpdatePhase.DOWNLOADING, bytesDone: total });
    this.report({ ...about, phase: UpdatePhase.INSTALLING, bytesDone: total });
    if (outcome === "failed") {
      this.report({
        ...about,
        phase: UpdatePhase.FAILED,
        reason: UpdateFailureReason.NO_SPACE,
        message: "rauc: not enough space on the inactive slot",
      });
      await this.settle();
      return;
    }
    this.report({ ...about, phase: UpdatePhase.REBOOTING, bytesDone: total });
    await this.settle();
    const old = this.imageVersion;
    await this.reboot(outcome === "healthy" ? update.version : old, outcome === "healthy" ? "B" : this.bootedSlot);
    this.report(
      outcome === "healthy"
        ? { ...about, phase: UpdatePhase.HEALTHY }
        : {
            ...about,
            phase: UpdatePhase.ROLLED_BACK,
            reason: UpdateFailureReason.NOT_HEALTHY,
            message: "the new slot did not confirm; booted the old one",
          },
    );
    await this.settle();
  }
}

/**
 * Enrolls `count` screens into `tenant` (in a new group named `group`) running `image`, and
 * opens their streams. Names are `<group>-01`, `<group>-02`, …
 */
export async function enrollUpdateScreens(
  app: UpdateApp,
  tenant: TestTenant,
  group: string,
  count: number,
  image: string,
): Promise<{ groupId: string; screens: SimulatedUpdateScreen[] }> {
  const fleet = app.client(FleetService, tenant.tokens.admin);
  const { group: created } = await fleet.createGroup({ name: group });
  const groupId = created?.id ?? "";
  const { enrollmentKey } = await fleet.createEnrollmentKey({ name: group, groupId });
  const device = app.client(DeviceService, "unused");
  const screens: SimulatedUpdateScreen[] = [];
  for (let n = 1; n <= count; n++) {
    const name = `${group}-${String(n).padStart(2, "0")}`;
    const response = await device.register({ hardwareId: name, enrollmentKey, facts: { hostname: name } });
    if (response.outcome.case !== "enrolled") throw new Error(`screen ${name} was not enrolled`);
    const { deviceId, deviceToken } = response.outcome.value;
    screens.push(new SimulatedUpdateScreen(app, { id: deviceId, name, token: deviceToken }, image));
  }
  await Promise.all(screens.map((screen) => screen.connect()));
  return { groupId, screens };
}
