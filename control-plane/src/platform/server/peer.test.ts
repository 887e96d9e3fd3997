import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { clientAddress } from "./peer.ts";

function request(remoteAddress: string, forwardedFor?: string): IncomingMessage {
  return {
    socket: { remoteAddress },
    headers: forwardedFor === undefined ? {} : { "x-forwarded-for": forwardedFor },
  } as unknown as IncomingMessage;
}

const balancer = new Set(["10.0.0.2"]);

describe("clientAddress", () => {
  it("ignores X-Forwarded-For from a connection that is not a trusted proxy", () => {
    expect(clientAddress(request("203.0.113.9", "198.51.100.1"), balancer)).toBe("203.0.113.9");
  });

  it("takes the address the trusted balancer forwarded, also on a dual-stack socket", () => {
    expect(clientAddress(request("10.0.0.2", "198.51.100.1"), balancer)).toBe("198.51.100.1");
    expect(clientAddress(request("::ffff:10.0.0.2", "198.51.100.1"), balancer)).toBe("198.51.100.1");
  });

  it("believes only the right-most hop the balancer wrote, not what the client put before it", () => {
    expect(clientAddress(request("10.0.0.2", "1.2.3.4, 198.51.100.1"), balancer)).toBe("198.51.100.1");
  });

  it("keeps the socket address when a trusted proxy sends no header", () => {
    expect(clientAddress(request("10.0.0.2"), balancer)).toBe("10.0.0.2");
  });
});
