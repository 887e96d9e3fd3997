import { AsyncQueue } from "@avtech/io";
import {
  CompletePairingResponseSchema,
  type ConnectRequest,
  type ConnectResponse,
  ConnectResponseSchema,
  DeviceService,
  type RegisterRequest,
} from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ConnectRouter, createRouterTransport, type Transport } from "@connectrpc/connect";

/**
 * A DeviceService fake (conventions rule 5): records what the player sends. `transport` serves
 * `routes` in memory (createRouterTransport); mount `routes` on a real HTTP/2 server
 * (`test/lib/h2-control-plane.ts`) to test what only the network does (a server that goes away).
 */
export class FakeControlPlane {
  readonly transport: Transport;
  /** The DeviceService implementation, for a Connect router. */
  readonly routes: (router: ConnectRouter) => void;
  readonly received: ConnectRequest[] = [];
  readonly registrations: RegisterRequest[] = [];
  /** Register answers with a pairing ticket when true, else with credentials. */
  pairing = false;
  /** CompletePairing answers "waiting" this many times before "claimed". */
  waitingPolls = 1;
  /** Connect attempts that fail with UNAVAILABLE before one succeeds. */
  failConnects = 0;
  /** The token Connect accepts. */
  token = "token-1";
  connects = 0;
  #stream: AsyncQueue<ConnectResponse> | undefined;
  readonly #waiters: { match: (r: ConnectRequest) => boolean; resolve: (r: ConnectRequest) => void }[] = [];

  constructor() {
    this.routes = (router) => {
      router.service(DeviceService, {
        register: async (req) => {
          this.registrations.push(req);
          if (this.pairing) {
            return {
              outcome: {
                case: "pairing",
                value: {
                  pairingCode: "BCDFGHJK",
                  pairingSecret: "secret",
                  expiresAt: timestampFromDate(new Date(Date.now() + 600_000)),
                  pollIntervalSeconds: 1,
                },
              },
            };
          }
          return {
            outcome: { case: "enrolled", value: { deviceId: "dev-1", deviceToken: this.token, screenName: "Lobby" } },
          };
        },
        completePairing: async (req) => {
          if (req.pairingSecret !== "secret") throw new ConnectError("unknown pairing", Code.NotFound);
          if (this.waitingPolls-- > 0) {
            return create(CompletePairingResponseSchema, { outcome: { case: "waiting", value: {} } });
          }
          return create(CompletePairingResponseSchema, {
            outcome: { case: "claimed", value: { deviceId: "dev-1", deviceToken: this.token, screenName: "Lobby" } },
          });
        },
        connect: (requests, ctx) => {
          this.connects++;
          if (this.failConnects > 0) {
            this.failConnects--;
            throw new ConnectError("control plane restarting", Code.Unavailable);
          }
          if (ctx.requestHeader.get("authorization") !== `Bearer ${this.token}`) {
            throw new ConnectError("unknown device token", Code.Unauthenticated);
          }
          const out = new AsyncQueue<ConnectResponse>();
          this.#stream = out;
          void (async () => {
            try {
              for await (const request of requests) {
                this.#receive(request);
                if (request.message.case === "hello") {
                  out.push(
                    create(ConnectResponseSchema, {
                      message: {
                        case: "welcome",
                        value: {
                          deviceId: "dev-1",
                          screenName: "Lobby",
                          serverTime: timestampFromDate(new Date()),
                          config: { heartbeatIntervalSeconds: 5, playEventBatchSeconds: 1 },
                        },
                      },
                    }),
                  );
                }
              }
            } catch {
              // The client went away; the stream ends below.
            } finally {
              out.close();
            }
          })();
          return out;
        },
      });
    };
    this.transport = createRouterTransport(this.routes);
  }

  /** Sends a message on the current stream. */
  send(message: MessageInitShape<typeof ConnectResponseSchema>["message"]): void {
    this.#stream?.push(create(ConnectResponseSchema, { message }));
  }

  /** Ends the current stream (a server restart). */
  dropStream(): void {
    this.#stream?.fail(new ConnectError("server going away", Code.Unavailable));
  }

  /** Messages of one case, in arrival order. */
  ofCase<C extends ConnectRequest["message"]["case"]>(
    c: C,
  ): Extract<ConnectRequest["message"], { case: C }>["value"][] {
    return this.received.flatMap((r) => (r.message.case === c ? [r.message.value as never] : []));
  }

  /** Resolves with the first request (past or future) that matches. */
  waitFor(match: (r: ConnectRequest) => boolean): Promise<ConnectRequest> {
    const seen = this.received.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }

  #receive(request: ConnectRequest): void {
    this.received.push(request);
    for (const w of [...this.#waiters]) {
      if (w.match(request)) {
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        w.resolve(request);
      }
    }
  }
}
