import { pbkdf2Sync } from "node:crypto";
import { parse as parseToml } from "smol-toml";
import type { SystemSettings } from "../site/index.ts";

/** The screen's operating system as the boot-time applier needs it; the real one is in system.ts. */
export interface DeviceSystem {
  /** The board's serial number (Raspberry Pi device tree), or undefined off a Pi. */
  serialNumber(): Promise<string | undefined>;
  exists(path: string): Promise<boolean>;
  mkdir(path: string, mode: number): Promise<void>;
  /** Writes a file atomically with the given mode. */
  writeFile(path: string, content: string, mode: number): Promise<void>;
  /** Creates or replaces a symbolic link. */
  symlink(target: string, path: string): Promise<void>;
  run(command: string, args: readonly string[]): Promise<void>;
}

/** Where the applier writes: runtime state in RAM (read-only root) and persistent state on the data partition. */
export interface ApplyPaths {
  readonly runtimeDir: string;
  readonly stateDir: string;
  readonly zoneinfoDir: string;
}

/** What was done, for the journal. */
export type Applied = readonly string[];

/** The host name for a pattern: {serial} becomes the last 8 hex digits of the serial (or "unknown0"). */
export function hostnameFor(pattern: string, serial: string | undefined): string {
  const digits = (serial ?? "").toLowerCase().replace(/[^0-9a-f]/g, "");
  const tail = digits.length >= 8 ? digits.slice(-8) : digits.padStart(8, "0");
  return pattern.replaceAll("{serial}", digits.length === 0 ? "unknown0" : tail).slice(0, 63);
}

/** wpa_supplicant config: SSID in hex and the PSK pre-hashed, so no quoting issues and no passphrase in /run. */
export function wpaSupplicantConfig(wifi: NonNullable<SystemSettings["wifi"]>): string {
  const ssidHex = Buffer.from(wifi.ssid, "utf8").toString("hex");
  const auth =
    wifi.psk === undefined
      ? "  key_mgmt=NONE"
      : `  psk=${pbkdf2Sync(wifi.psk, Buffer.from(wifi.ssid, "utf8"), 4096, 32, "sha1").toString("hex")}`;
  return [
    "# Written at boot by avtech-boot-config from avtech-system.toml.",
    "ctrl_interface=DIR=/run/wpa_supplicant",
    "update_config=0",
    `country=${wifi.country}`,
    "network={",
    `  ssid=${ssidHex}`,
    "  scan_ssid=1",
    auth,
    "}",
    "",
  ].join("\n");
}

/** The `timezone` key of the player's avtech.toml, read leniently: system settings apply even if it is invalid. */
export function timezoneOf(playerToml: string | undefined): string | undefined {
  if (playerToml === undefined) return undefined;
  try {
    const value = parseToml(playerToml).timezone;
    return typeof value === "string" && /^[A-Za-z0-9_+\-/]+$/.test(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Applies the site's system settings at boot. Every step writes only under the runtime folder (RAM) or the
 * state folder (data partition) and is safe to repeat on every boot.
 */
export async function applySystemSettings(
  settings: SystemSettings,
  playerToml: string | undefined,
  paths: ApplyPaths,
  sys: DeviceSystem,
): Promise<Applied> {
  const done: string[] = [];
  await sys.mkdir(paths.runtimeDir, 0o755);

  const hostname = hostnameFor(settings.hostname, await sys.serialNumber());
  await sys.writeFile(`${paths.runtimeDir}/hostname`, `${hostname}\n`, 0o644);
  await sys.run("hostname", [hostname]);
  done.push(`hostname ${hostname}`);

  const zone = timezoneOf(playerToml) ?? "UTC";
  const zoneFile = `${paths.zoneinfoDir}/${zone}`;
  const known = await sys.exists(zoneFile);
  await sys.symlink(known ? zoneFile : `${paths.zoneinfoDir}/UTC`, `${paths.runtimeDir}/localtime`);
  done.push(known ? `time zone ${zone}` : `time zone ${zone} unknown to tzdata, using UTC`);

  if (settings.wifi !== undefined) {
    await sys.writeFile(`${paths.runtimeDir}/wpa_supplicant-wlan0.conf`, wpaSupplicantConfig(settings.wifi), 0o600);
    await sys.run("systemctl", ["start", "--no-block", "wpa_supplicant@wlan0.service"]);
    done.push(`wifi ${settings.wifi.ssid} (${settings.wifi.country})`);
  }

  if (settings.ssh) {
    const keyDir = `${paths.stateDir}/ssh`;
    await sys.mkdir(keyDir, 0o700);
    for (const type of ["ed25519", "rsa"] as const) {
      const key = `${keyDir}/ssh_host_${type}_key`;
      if (!(await sys.exists(key))) {
        await sys.run("ssh-keygen", ["-q", "-N", "", "-t", type, "-f", key]);
        done.push(`made SSH host key ${type}`);
      }
    }
    const authorized = `${paths.runtimeDir}/ssh/authorized_keys`;
    await sys.mkdir(`${paths.runtimeDir}/ssh`, 0o755);
    await sys.mkdir(authorized, 0o755);
    await sys.writeFile(`${authorized}/root`, settings.ssh_authorized_keys.map((k) => `${k}\n`).join(""), 0o600);
    await sys.run("systemctl", ["start", "--no-block", "ssh.service"]);
    done.push(`ssh on, ${settings.ssh_authorized_keys.length} authorized key(s)`);
  }
  return done;
}
