import { Health, HealthCheckResponse_ServingStatus } from "@avtech/proto/gen/grpc/health/v1/health_pb.js";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { createHealthService, createHealthState, type HealthStatusSource } from "./health.ts";

describe("createHealthState", () => {
  it("knows only the whole server by default, as SERVING", () => {
    const state = createHealthState();
    expect(state.status("")).toBe("SERVING");
    expect(state.status("avtech.content.v1.ContentService")).toBe("SERVICE_UNKNOWN");
  });

  it("tells listeners about changes only, and forgets a service set to SERVICE_UNKNOWN", () => {
    const state = createHealthState({ "": "SERVING", a: "SERVING" });
    let calls = 0;
    const unsubscribe = state.subscribe(() => calls++);
    state.set("a", "SERVING");
    expect(calls).toBe(0);
    state.set("a", "NOT_SERVING");
    state.set("a", "SERVICE_UNKNOWN");
    expect(calls).toBe(2);
    expect(state.status("a")).toBe("SERVICE_UNKNOWN");
    unsubscribe();
    state.set("a", "SERVING");
    expect(calls).toBe(2);
  });

  it("marks every known service NOT_SERVING at once, e.g. while draining for shutdown", () => {
    const state = createHealthState({ "": "SERVING", a: "SERVING", b: "NOT_SERVING" });
    let calls = 0;
    state.subscribe(() => calls++);
    state.setAll("NOT_SERVING");
    expect([state.status(""), state.status("a"), state.status("b")]).toEqual([
      "NOT_SERVING",
      "NOT_SERVING",
      "NOT_SERVING",
    ]);
    expect(state.status("c")).toBe("SERVICE_UNKNOWN");
    expect(calls).toBe(1);
  });
});

describe("createHealthService", () => {
  function clientFor(source: HealthStatusSource) {
    const transport = createRouterTransport((router) => router.service(Health, createHealthService(source)));
    return createClient(Health, transport);
  }

  it("answers Check for a known service and NOT_FOUND with a hint for an unknown one", async () => {
    const client = clientFor(createHealthState());
    expect((await client.check({ service: "" })).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    const error = await client.check({ service: "x.Y" }).catch((e: unknown) => ConnectError.from(e));
    expect(error).toMatchObject({ code: Code.NotFound });
    expect((error as ConnectError).rawMessage).toContain('ask for ""');
  });

  // That Watch lets go of its listener when the client leaves is tested over real HTTP/2
  // (test/grpc-std): the in-memory transport stops pulling an aborted stream, so there the
  // generator stays parked at its yield instead of finishing.
  it("streams changes of the watched service only", async () => {
    const state = createHealthState();
    const abort = new AbortController();
    const stream = clientFor(state).watch({ service: "" }, { signal: abort.signal })[Symbol.asyncIterator]();

    expect((await stream.next()).value?.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    state.set("other.Service", "SERVING");
    state.set("", "NOT_SERVING");
    expect((await stream.next()).value?.status).toBe(HealthCheckResponse_ServingStatus.NOT_SERVING);
    state.set("", "NOT_SERVING");
    state.set("", "SERVING");
    expect((await stream.next()).value?.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    abort.abort();
  });
});
