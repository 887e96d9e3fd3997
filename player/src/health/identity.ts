import { readFile } from "node:fs/promises";
import { hostname, networkInterfaces } from "node:os";
import { type DeviceFacts, DeviceFactsSchema } from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { create } from "@bufbuild/protobuf";

/** Who this device is, read once at start-up. */
export interface DeviceIdentity {
  /** The Pi's serial number, else the machine id: stable across reinstalls of the player. */
  hardwareId: string;
  /** Changes on every OS boot. */
  bootId: string;
  facts: DeviceFacts;
}

async function firstReadable(paths: readonly string[]): Promise<string | undefined> {
  for (const path of paths) {
    const text = await readFile(path, "utf8").catch(() => undefined);
    // Device-tree strings end with a NUL byte.
    const value = text?.replace(/\0/g, "").trim();
    if (value) return value;
  }
  return undefined;
}

/** Reads the identity from /proc, /sys and /etc (root is `/` except in tests). */
export async function readIdentity(playerVersion: string, root = "/"): Promise<DeviceIdentity> {
  const at = (p: string) => `${root.replace(/\/$/, "")}${p}`;
  const hardwareId =
    (await firstReadable([at("/sys/firmware/devicetree/base/serial-number"), at("/proc/device-tree/serial-number")])) ??
    (await firstReadable([at("/etc/machine-id")])) ??
    hostname();
  const osRelease = (await firstReadable([at("/etc/os-release")])) ?? "";
  const osVersion = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(osRelease)?.[1] ?? "unknown";
  const macs = Object.values(networkInterfaces())
    .flat()
    .filter((n) => n !== undefined && !n.internal && n.mac !== "00:00:00:00:00:00")
    .map((n) => n?.mac ?? "");
  return {
    hardwareId,
    bootId: (await firstReadable([at("/proc/sys/kernel/random/boot_id")])) ?? "unknown",
    facts: create(DeviceFactsSchema, {
      model: (await firstReadable([at("/proc/device-tree/model")])) ?? "unknown",
      osVersion,
      playerVersion,
      hostname: hostname(),
      macAddresses: [...new Set(macs)],
    }),
  };
}
