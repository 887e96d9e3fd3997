import { pbkdf2Sync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { systemSettingsSchema } from "../site/index.ts";
import { applySystemSettings, type DeviceSystem, hostnameFor, timezoneOf, wpaSupplicantConfig } from "./index.ts";

function fakeSystem(serial: string | undefined, existing: string[] = []) {
  const files = new Map<string, { content: string; mode: number }>();
  const links = new Map<string, string>();
  const commands: string[] = [];
  const present = new Set(existing);
  const sys: DeviceSystem = {
    serialNumber: async () => serial,
    exists: async (p) => present.has(p) || files.has(p),
    mkdir: async () => {},
    writeFile: async (p, content, mode) => {
      files.set(p, { content, mode });
    },
    symlink: async (target, p) => {
      links.set(p, target);
    },
    run: async (command, args) => {
      commands.push([command, ...args].join(" "));
      if (command === "ssh-keygen") present.add(args[args.length - 1] as string);
    },
  };
  return { sys, files, links, commands };
}

const paths = { runtimeDir: "/run/avtech", stateDir: "/var/lib/avtech/system", zoneinfoDir: "/usr/share/zoneinfo" };

describe("applySystemSettings", () => {
  it("sets the host name from the pattern and the time zone from the player's config", async () => {
    const fake = fakeSystem("10000000a1b2c3d4", ["/usr/share/zoneinfo/Europe/Madrid"]);
    const settings = systemSettingsSchema.parse({ hostname: "lobby-{serial}" });
    const done = await applySystemSettings(settings, 'timezone = "Europe/Madrid"\n', paths, fake.sys);
    expect(fake.commands).toEqual(["hostname lobby-a1b2c3d4"]);
    expect(fake.links.get("/run/avtech/localtime")).toBe("/usr/share/zoneinfo/Europe/Madrid");
    expect(done).toEqual(["hostname lobby-a1b2c3d4", "time zone Europe/Madrid"]);
  });

  it("falls back to UTC for a zone tzdata does not know", async () => {
    const fake = fakeSystem(undefined);
    await applySystemSettings(systemSettingsSchema.parse({}), 'timezone = "Nowhere/Else"', paths, fake.sys);
    expect(fake.links.get("/run/avtech/localtime")).toBe("/usr/share/zoneinfo/UTC");
    expect(fake.commands).toEqual(["hostname avtech-unknown0"]);
  });

  it("configures Wi-Fi with a private, pre-hashed key and starts wpa_supplicant", async () => {
    const fake = fakeSystem("abc");
    const wifi = { ssid: "Shop WiFi", psk: "correct horse battery", country: "ES" };
    await applySystemSettings(systemSettingsSchema.parse({ wifi }), undefined, paths, fake.sys);
    const conf = fake.files.get("/run/avtech/wpa_supplicant-wlan0.conf");
    expect(conf?.mode).toBe(0o600);
    expect(conf?.content).not.toContain("correct horse battery");
    expect(fake.commands).toContain("systemctl start --no-block wpa_supplicant@wlan0.service");
  });

  it("makes SSH host keys once, on the data partition, and installs the authorized keys", async () => {
    const fake = fakeSystem("abc");
    const settings = systemSettingsSchema.parse({ ssh: true, ssh_authorized_keys: ["ssh-ed25519 AAAA ops"] });
    await applySystemSettings(settings, undefined, paths, fake.sys);
    await applySystemSettings(settings, undefined, paths, fake.sys);
    expect(fake.commands.filter((c) => c.startsWith("ssh-keygen"))).toEqual([
      "ssh-keygen -q -N  -t ed25519 -f /var/lib/avtech/system/ssh/ssh_host_ed25519_key",
      "ssh-keygen -q -N  -t rsa -f /var/lib/avtech/system/ssh/ssh_host_rsa_key",
    ]);
    expect(fake.files.get("/run/avtech/ssh/authorized_keys/root")?.content).toBe("ssh-ed25519 AAAA ops\n");
    expect(fake.commands.filter((c) => c.includes("ssh.service"))).toHaveLength(2);
  });

  it("leaves SSH off by default", async () => {
    const fake = fakeSystem("abc");
    await applySystemSettings(systemSettingsSchema.parse({}), undefined, paths, fake.sys);
    expect(fake.commands.some((c) => c.includes("ssh"))).toBe(false);
  });
});

describe("helpers", () => {
  it("uses the last 8 hex digits of the serial", () => {
    expect(hostnameFor("avtech-{serial}", "10000000A1B2C3D4")).toBe("avtech-a1b2c3d4");
    expect(hostnameFor("screen", "x")).toBe("screen");
  });

  it("writes the WPA PSK wpa_passphrase would derive", () => {
    const conf = wpaSupplicantConfig({ ssid: "net", psk: "password1", country: "DE" });
    const psk = pbkdf2Sync("password1", "net", 4096, 32, "sha1").toString("hex");
    expect(conf).toContain(`psk=${psk}`);
    expect(conf).toContain(`ssid=${Buffer.from("net").toString("hex")}`);
    expect(wpaSupplicantConfig({ ssid: "open", country: "DE" })).toContain("key_mgmt=NONE");
  });

  it("reads the time zone leniently", () => {
    expect(timezoneOf("timezone = 'Europe/Berlin'")).toBe("Europe/Berlin");
    expect(timezoneOf("not toml = = =")).toBeUndefined();
    expect(timezoneOf('timezone = "../../etc/passwd"')).toBeUndefined();
  });
});
