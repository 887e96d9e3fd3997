import { AuthService } from "@avtech/proto/gen/avtech/auth/v1/auth_pb.js";
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAdminCommands } from "../../src/admin/index.ts";
import { defaultLoginRateLimits } from "../../src/core/users/auth-service.ts";
import { startTestApp, type TestApp } from "../lib/test-app.ts";

/** An AuthService client whose connections leave from `localAddress` (any 127/8 address is loopback). */
function authFrom(app: TestApp, localAddress: string) {
  return createClient(
    AuthService,
    createConnectTransport({ baseUrl: app.addresses.http1Url, httpVersion: "1.1", nodeOptions: { localAddress } }),
  );
}

describe("login rate limits", () => {
  let app: TestApp;
  const password = "a long enough password";
  const burst = defaultLoginRateLimits.perIp.burst;

  beforeAll(async () => {
    app = await startTestApp();
    await app.createTenant("acme");
    await createAdminCommands(app.db.orm, { storageBytes: 1e9, screens: 10 }).createUser({
      tenant: "acme",
      email: "ada@example.com",
      password,
      role: "admin",
    });
  });
  afterAll(async () => {
    await app?.close();
  });

  // Attempts go out together, so the buckets (which refill over seconds) cannot refill in between
  // however slowly scrypt runs on a loaded machine: exactly the attempts over the burst are refused.
  it("refuses one address trying many accounts, saying when to retry, and leaves other addresses alone", async () => {
    const guesser = authFrom(app, "127.0.0.2");
    const outcomes = await Promise.allSettled(
      Array.from({ length: burst + 1 }, (_, i) =>
        guesser.login({ tenant: "acme", email: `user${i}@example.com`, password: "guessed password" }),
      ),
    );
    const refused = outcomes.filter((o) => o.status === "rejected" && o.reason.code === Code.ResourceExhausted);
    const wrong = outcomes.filter((o) => o.status === "rejected" && o.reason.code === Code.Unauthenticated);
    expect([refused.length, wrong.length]).toEqual([1, burst]);
    expect(refused[0]).toMatchObject({
      reason: { rawMessage: expect.stringMatching(/^too many requests from this address; retry in [1-5] s/) },
    });

    const colleague = authFrom(app, "127.0.0.3");
    const login = await colleague.login({ tenant: "acme", email: "ada@example.com", password });
    expect(login.sessionToken).toMatch(/^avs_/);
  });

  it("refuses one account tried too often, from any mix of addresses, saying when to retry", async () => {
    const wrong = { tenant: "acme", email: "bob@example.com", password: "guessed password" };
    const [here, there] = [authFrom(app, "127.0.0.4"), authFrom(app, "127.0.0.5")];
    const outcomes = await Promise.allSettled(
      Array.from({ length: 11 }, (_, i) => (i % 2 === 0 ? here : there).login(wrong)),
    );
    const refused = outcomes.filter((o) => o.status === "rejected" && o.reason.code === Code.ResourceExhausted);
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({
      reason: { rawMessage: expect.stringMatching(/^too many login attempts for this account; retry in \d+ s$/) },
    });
  });
});
