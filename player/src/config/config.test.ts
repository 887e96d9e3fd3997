import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "./index.ts";

const minimal = `control_plane_url = "https://cp.example.com/"\nenrollment_key = "ek_123"\n`;

describe("parseConfig", () => {
  it("applies the documented defaults and freezes the result", () => {
    const config = parseConfig(minimal, "/boot/firmware/avtech.toml");
    expect(config).toMatchObject({
      controlPlaneUrl: "https://cp.example.com",
      enrollment: { kind: "enrollmentKey", key: "ek_123" },
      dataDir: "/var/lib/avtech",
      mediaDir: "/var/lib/avtech/media",
      heartbeatIntervalSeconds: 15,
      displayRotation: 0,
      logLevel: "info",
      mpv: { vo: "gpu", hwdec: "auto-safe", audioDevice: "auto", volume: 100, extraArgs: [] },
    });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.mpv)).toBe(true);
  });

  it("reads every key", () => {
    const config = parseConfig(
      `control_plane_url = "http://10.0.0.2:8080"
pairing = true
ca_cert_path = "/boot/firmware/ca.pem"
data_dir = "/data"
media_dir = "/media/avtech"
max_media_bytes = 1000
min_free_bytes = 10
heartbeat_interval_seconds = 30
display_rotation = 90
timezone = "Europe/Madrid"
log_level = "debug"
[mpv]
vo = "drm"
hwdec = "no"
audio_device = "alsa/hdmi"
volume = 50
extra_args = ["--mute=yes"]
`,
      "x.toml",
    );
    expect(config).toMatchObject({
      enrollment: { kind: "pairing" },
      caCertPath: "/boot/firmware/ca.pem",
      mediaDir: "/media/avtech",
      maxMediaBytes: 1000,
      minFreeBytes: 10,
      displayRotation: 90,
      timezone: "Europe/Madrid",
      mpv: { vo: "drm", volume: 50, extraArgs: ["--mute=yes"] },
    });
  });

  it.each([
    ["broken = ", /not valid TOML at line 1/],
    [`enrollment_key = "k"`, /control_plane_url: required, add it/],
    [`control_plane_url = "https://x"`, /set enrollment_key/],
    [`${minimal}pairing = true`, /both enrollment_key and pairing/],
    [`${minimal}heartbeat_intervall = 3`, /unknown key "heartbeat_intervall"/],
    [`${minimal}heartbeat_interval_seconds = 1`, /heartbeat_interval_seconds:/],
    [`${minimal}timezone = "Mars/Olympus"`, /not an IANA zone/],
    [`${minimal}[mpv]\nvolume = 300`, /mpv\.volume:/],
  ])("refuses %j with a message naming the key", (text, message) => {
    expect(() => parseConfig(text, "/boot/firmware/avtech.toml")).toThrow(ConfigError);
    expect(() => parseConfig(text, "/boot/firmware/avtech.toml")).toThrow(message);
  });
});
