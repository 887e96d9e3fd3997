import { parseConfig } from "@avtech/player/config";
import { describe, expect, it } from "vitest";
import { parseSystemSettings, renderBootFiles, SiteError, type SiteSettings, systemSettingsSchema } from "./index.ts";

const base: SiteSettings = {
  controlPlaneUrl: "https://signage.example.com",
  caCertPem: undefined,
  enrollmentKey: undefined,
  timezone: undefined,
  system: systemSettingsSchema.parse({}),
};

function file(site: SiteSettings, name: string): string {
  const found = renderBootFiles(site).find((f) => f.name === name);
  if (found === undefined) throw new Error(`no ${name}`);
  return found.content;
}

describe("renderBootFiles", () => {
  it("asks for pairing when there is no enrollment key", () => {
    const config = parseConfig(file(base, "avtech.toml"), "avtech.toml");
    expect(config.enrollment).toEqual({ kind: "pairing" });
    expect(config.caCertPath).toBeUndefined();
  });

  it("puts a private CA on the boot partition and points the player at it", () => {
    const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    const site = { ...base, caCertPem: pem };
    expect(file(site, "avtech-ca.pem")).toBe(pem);
    expect(parseConfig(file(site, "avtech.toml"), "avtech.toml").caCertPath).toBe("/boot/firmware/avtech-ca.pem");
  });

  it("quotes values that would break hand-written TOML", () => {
    const site = { ...base, enrollmentKey: 'k"ey\\with\nnewline' };
    const config = parseConfig(file(site, "avtech.toml"), "avtech.toml");
    expect(config.enrollment).toEqual({ kind: "enrollmentKey", key: 'k"ey\\with\nnewline' });
  });

  it("round-trips the system settings", () => {
    const system = systemSettingsSchema.parse({
      hostname: "lobby-{serial}",
      ssh: true,
      ssh_authorized_keys: ["ssh-ed25519 AAAAC3Nza ops@example"],
      wifi: { ssid: "Shop", psk: "12345678", country: "DE" },
    });
    expect(parseSystemSettings(file({ ...base, system }, "avtech-system.toml"), "sys")).toEqual(system);
  });

  it("refuses what the screen could not use, saying what to change", () => {
    expect(() => renderBootFiles({ ...base, controlPlaneUrl: "signage.example.com" })).toThrow(/not a URL/);
    expect(() => renderBootFiles({ ...base, controlPlaneUrl: "ftp://x.example" })).toThrow(/https:\/\//);
    expect(() => renderBootFiles({ ...base, timezone: "Mars/Olympus" })).toThrow(SiteError);
    expect(() => renderBootFiles({ ...base, caCertPem: "not a cert" })).toThrow(/PEM/);
  });
});

describe("parseSystemSettings", () => {
  it("names the file and the key that is wrong", () => {
    expect(() => parseSystemSettings('hostname = "Bad_Name"', "/boot/firmware/avtech-system.toml")).toThrow(
      /avtech-system\.toml: invalid system settings:\n {2}- hostname: use lower-case/,
    );
    expect(() => parseSystemSettings("wifi = { ssid = 'x', country = 'es' }", "f")).toThrow(/wifi\.country/);
    expect(() => parseSystemSettings("ssh = yes", "f")).toThrow(/not valid TOML at line 1/);
  });
});
