import { readFile } from "node:fs/promises";

/** One control-plane replica as HAProxy sees it. */
export interface BackendServer {
  name: string;
  host: string;
  /** The replica's h2c gRPC port (`listen.port`): streams are sent as HTTP/2 cleartext. */
  port: number;
  /** The replica's HTTP/1.1 port (`listen.http1Port`), where the health check asks /readyz. */
  checkPort: number;
}

/** What {@link renderHaproxyConfig} fills into the template. */
export interface HaproxySettings {
  frontHost: string;
  frontPort: number;
  servers: readonly BackendServer[];
  /**
   * Global connection cap; default 9 000: each connection costs HAProxy two descriptors (client and
   * replica side) and this machine caps a process at 20 000.
   */
  maxconn?: number;
  /**
   * Most streams this balancer process sends to one replica; default 18 000: a replica is capped at 20 000
   * descriptors like every process here, one per stream plus its database pools and logs. With several
   * balancer processes each gets its share of that, so an uneven spread cannot push a replica past its cap:
   * a full replica is skipped (leastconn takes the next) and only when all are full do streams queue.
   */
  serverMaxconn?: number;
  /**
   * A second address of this one process, besides the shared front: when several HAProxy processes share
   * `frontPort` (SO_REUSEPORT, which HAProxy sets on Linux by default), the front reaches whichever one the
   * kernel picks, so each gets a port of its own where its readiness can be checked. Default: none.
   */
  ownPort?: number;
}

const templateUrl = new URL("./haproxy.cfg.template", import.meta.url);

/** Reads haproxy.cfg.template beside this module. */
export async function readHaproxyTemplate(): Promise<string> {
  return readFile(templateUrl, "utf8");
}

/**
 * Fills the template's `{{name}}` placeholders (snake_case, because the Ansible role renders the same file with
 * Jinja and these are its variable names there). Throws when one is left unknown, so a template
 * edit cannot ship a config with a literal `{{…}}` in it.
 */
export function renderHaproxyConfig(template: string, settings: HaproxySettings): string {
  if (settings.servers.length === 0) throw new Error("HAProxy needs at least one backend server");
  const values: Record<string, string> = {
    front_host: settings.frontHost,
    front_port: String(settings.frontPort),
    maxconn: String(settings.maxconn ?? 9_000),
    server_maxconn: String(settings.serverMaxconn ?? 18_000),
    own_bind:
      settings.ownPort === undefined
        ? "  # (one balancer process: no address of its own)"
        : `  bind ${settings.frontHost}:${settings.ownPort}`,
    // Filled by the Ansible control_plane role (HAProxy as the haproxy user, TLS on the front); make cluster runs
    // HAProxy as its caller on cleartext, so it fills nothing there.
    global_options: "",
    bind_options: "",
    servers: settings.servers
      .map((s) => `  server ${s.name} ${s.host}:${s.port} proto h2 check port ${s.checkPort} check-proto h1`)
      .join("\n"),
  };
  return template.replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
    const value = values[key];
    if (value === undefined) throw new Error(`haproxy.cfg.template: unknown placeholder {{${key}}}`);
    return value;
  });
}
