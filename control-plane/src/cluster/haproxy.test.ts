import { describe, expect, it } from "vitest";
import { readHaproxyTemplate, renderHaproxyConfig } from "./haproxy.ts";

describe("renderHaproxyConfig", () => {
  it("sends every replica h2c streams, checks /readyz on its HTTP/1.1 port and balances by least connections", async () => {
    const config = renderHaproxyConfig(await readHaproxyTemplate(), {
      frontHost: "127.0.0.1",
      frontPort: 9000,
      servers: [
        { name: "r1", host: "127.0.0.1", port: 9101, checkPort: 9102 },
        { name: "r2", host: "127.0.0.1", port: 9201, checkPort: 9202 },
      ],
    });
    expect(config).toContain("bind 127.0.0.1:9000");
    expect(config).toContain("server r1 127.0.0.1:9101 proto h2 check port 9102 check-proto h1");
    expect(config).toContain("server r2 127.0.0.1:9201 proto h2 check port 9202 check-proto h1");
    expect(config).toMatch(/balance leastconn/);
    expect(config).toMatch(/option httpchk GET \/readyz/);
    expect(config).toMatch(/timeout tunnel 1h/);
    expect(config).toMatch(/default-server .*maxconn 18000/);
    expect(config).toMatch(/option forwardfor/);
    expect(config).not.toMatch(/\{\{/);
  });

  it("gives a balancer process that shares the front port an address of its own", async () => {
    const template = await readHaproxyTemplate();
    const servers = [{ name: "r1", host: "127.0.0.1", port: 9101, checkPort: 9102 }];
    const shared = renderHaproxyConfig(template, { frontHost: "127.0.0.1", frontPort: 9000, ownPort: 9003, servers });
    expect(shared).toContain("bind 127.0.0.1:9000\n");
    expect(shared).toContain("bind 127.0.0.1:9003\n");
    const alone = renderHaproxyConfig(template, { frontHost: "127.0.0.1", frontPort: 9000, servers });
    expect(alone.match(/^\s*bind /gm)).toHaveLength(1);
  });

  it("refuses a template with a placeholder it does not know", () => {
    expect(() =>
      renderHaproxyConfig("bind {{front_host}}:{{nope}}", {
        frontHost: "h",
        frontPort: 1,
        servers: [{ name: "r1", host: "h", port: 2, checkPort: 3 }],
      }),
    ).toThrow(/unknown placeholder \{\{nope\}\}/);
  });

  it("refuses an empty backend", () => {
    expect(() => renderHaproxyConfig("x", { frontHost: "h", frontPort: 1, servers: [] })).toThrow(/at least one/);
  });
});
