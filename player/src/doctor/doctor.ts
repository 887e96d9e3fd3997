import { lookup } from "node:dns/promises";
import { access, statfs } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect as netConnect } from "node:net";
import { dirname } from "node:path";
import { connect as tlsConnect } from "node:tls";
import type { PlayerConfig } from "../config/index.ts";
import { displayConnected } from "../health/index.ts";
import { messageOf } from "../storage/index.ts";
import { createRaucCli, type Rauc, readImageVersion } from "../update/index.ts";

/** One check's verdict. */
export interface Check {
  name: string;
  result: "pass" | "warn" | "fail";
  detail: string;
}

/** Options of {@link runDoctor}. */
export interface DoctorOptions {
  /** PEM of the control plane's CA, when the config names one. */
  ca?: string | undefined;
  /** Where DRM connectors are listed; default /sys/class/drm. */
  drmDir?: string;
  /** Per-check network timeout; default 5 000 ms. */
  timeoutMs?: number;
  /** Skew above this warns; default 5 000 ms (TLS and schedules tolerate little). */
  maxSkewMs?: number;
  /** RAUC for the OS update check; default the `rauc` command line. */
  rauc?: Rauc;
  /** The image's own version; default readImageVersion (/etc/avtech/os-release). */
  imageVersion?: () => Promise<string>;
}

/**
 * `avtech-player doctor`: what an installer checks on site, each with the fix in its message.
 * The config was already validated by the caller (an invalid one never gets here).
 */
export async function runDoctor(config: PlayerConfig, options: DoctorOptions = {}): Promise<Check[]> {
  const url = new URL(config.controlPlaneUrl);
  const timeoutMs = options.timeoutMs ?? 5_000;
  const checks: Check[] = [{ name: "config", result: "pass", detail: `${config.sourcePath} is valid` }];

  try {
    const { address } = await lookup(url.hostname);
    checks.push({ name: "dns", result: "pass", detail: `${url.hostname} → ${address}` });
  } catch (error) {
    checks.push({
      name: "dns",
      result: "fail",
      detail: `${url.hostname} does not resolve (${messageOf(error)}); check the network's DNS or control_plane_url`,
    });
    checks.push(...(await localChecks(config, options)));
    return checks;
  }

  const port = Number(url.port) || (url.protocol === "https:" ? 443 : 80);
  const tcp = await reach(url, port, options.ca, timeoutMs);
  checks.push(
    tcp.ok
      ? { name: url.protocol === "https:" ? "tls" : "tcp", result: "pass", detail: tcp.detail }
      : { name: url.protocol === "https:" ? "tls" : "tcp", result: "fail", detail: tcp.detail },
  );

  if (tcp.ok) {
    try {
      const date = await serverDate(url, options.ca, timeoutMs);
      const skew = Date.now() - date.getTime();
      // The Date header has one-second resolution: allow for it.
      const ok = Math.abs(skew) <= (options.maxSkewMs ?? 5_000) + 1_000;
      checks.push({
        name: "clock",
        result: ok ? "pass" : "warn",
        detail: ok
          ? `device clock within ${Math.abs(Math.round(skew / 1000))} s of the control plane`
          : `device clock is ${Math.round(skew / 1000)} s off the control plane; enable NTP (timedatectl set-ntp true) or open UDP 123`,
      });
    } catch (error) {
      checks.push({ name: "clock", result: "warn", detail: `no Date header from ${url.origin} (${messageOf(error)})` });
    }
  }
  checks.push(...(await localChecks(config, options)));
  return checks;
}

async function localChecks(config: PlayerConfig, options: DoctorOptions): Promise<Check[]> {
  const checks: Check[] = [];
  const drmDir = options.drmDir ?? "/sys/class/drm";
  const display = await displayConnected(drmDir);
  checks.push({
    name: "display",
    result: display ? "pass" : "warn",
    detail: display
      ? "a display is connected"
      : `no connected display under ${drmDir}; check the HDMI cable and port 0`,
  });
  const dir = await existingParent(config.mediaDir);
  try {
    const s = await statfs(dir);
    const free = s.bavail * s.bsize;
    const ok = free >= config.minFreeBytes;
    checks.push({
      name: "disk",
      result: ok ? "pass" : "fail",
      detail: `${(free / 1024 ** 2).toFixed(0)} MiB free on ${dir}${ok ? "" : `, below min_free_bytes (${config.minFreeBytes}); free space or lower max_media_bytes`}`,
    });
  } catch (error) {
    checks.push({ name: "disk", result: "fail", detail: `cannot stat ${dir}: ${messageOf(error)}` });
  }
  checks.push(await osUpdateCheck(options));
  return checks;
}

/** Whether OS updates can work here: RAUC answers, and which slot runs which release. */
async function osUpdateCheck(options: DoctorOptions): Promise<Check> {
  const imageVersion = await (options.imageVersion ?? (() => readImageVersion()))().catch(() => "");
  try {
    const status = await (options.rauc ?? createRaucCli()).status();
    const slots = status.slots
      .filter((s) => s.bootname !== "")
      .map(
        (s) =>
          `${s.bootname}${s.bootname === status.booted ? " (booted)" : ""} ${s.bootStatus || "?"}${s.bundleVersion ? ` ${s.bundleVersion}` : ""}`,
      )
      .join(", ");
    const booted = status.slots.find((s) => s.bootname === status.booted);
    const version = booted?.bundleVersion || imageVersion || "unknown version";
    return {
      name: "os",
      result: "pass",
      detail: `image ${version} on slot ${status.booted}, next boot ${status.primary || "?"}; slots: ${slots}`,
    };
  } catch (error) {
    return {
      name: "os",
      result: "warn",
      detail: `image ${imageVersion || "unknown version"}; no usable RAUC (${messageOf(error)}): OS updates cannot install here`,
    };
  }
}

function reach(
  url: URL,
  port: number,
  ca: string | undefined,
  timeoutMs: number,
): Promise<{ ok: boolean; detail: string }> {
  return new Promise((resolve) => {
    const started = performance.now();
    const tls = url.protocol === "https:";
    const socket = tls
      ? tlsConnect({ host: url.hostname, port, servername: url.hostname, ALPNProtocols: ["h2"], ...(ca ? { ca } : {}) })
      : netConnect({ host: url.hostname, port });
    const done = (ok: boolean, detail: string) => {
      socket.destroy();
      resolve({ ok, detail });
    };
    socket.setTimeout(timeoutMs, () =>
      done(false, `${url.host}: no answer within ${timeoutMs} ms; check the firewall`),
    );
    socket.on("error", (error) =>
      done(false, `${url.host}: ${messageOf(error)}${tls ? "; check ca_cert_path and the server certificate" : ""}`),
    );
    socket.on(tls ? "secureConnect" : "connect", () =>
      done(
        true,
        `${url.host} reachable in ${Math.round(performance.now() - started)} ms${tls ? " (TLS verified)" : ""}`,
      ),
    );
  });
}

function serverDate(url: URL, ca: string | undefined, timeoutMs: number): Promise<Date> {
  return new Promise((resolve, reject) => {
    const https = url.protocol === "https:";
    const req = (https ? httpsRequest : httpRequest)(new URL("/", url), {
      method: "HEAD",
      timeout: timeoutMs,
      ...(https && ca ? { ca } : {}),
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.on("response", (res) => {
      res.resume();
      const date = res.headers.date ? new Date(res.headers.date) : undefined;
      if (date && !Number.isNaN(date.getTime())) resolve(date);
      else reject(new Error("the response has no Date header"));
    });
    req.end();
  });
}

async function existingParent(path: string): Promise<string> {
  for (let dir = path; ; dir = dirname(dir)) {
    try {
      await access(dir);
      return dir;
    } catch {
      if (dir === "/") return dir;
    }
  }
}

/** Renders checks for a terminal. */
export function formatChecks(checks: readonly Check[]): string {
  const mark = { pass: "ok  ", warn: "WARN", fail: "FAIL" } as const;
  return `${checks.map((c) => `${mark[c.result]}  ${c.name.padEnd(8)} ${c.detail}`).join("\n")}\n`;
}
