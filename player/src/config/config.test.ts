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
      watchdog: { mpvIpcTimeoutMs: 2_000, mpvStartTimeoutMs: 15_000, mpvStallMs: 5_000 },
      update: { healthDeadlineSeconds: 300, rebootAfterFailedGate: true },
    });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.mpv)).toBe(true);
    expect(Object.isFrozen(config.watchdog)).toBe(true);
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
[watchdog]
mpv_ipc_timeout_ms = 20000
mpv_start_timeout_ms = 90000
mpv_stall_ms = 30000
[update]
health_deadline_seconds = 600
reboot_after_failed_gate = false
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
      watchdog: { mpvIpcTimeoutMs: 20_000, mpvStartTimeoutMs: 90_000, mpvStallMs: 30_000 },
      update: { healthDeadlineSeconds: 600, rebootAfterFailedGate: false },
    });
  });

  it("keeps the other watchdog defaults when only one limit is set", () => {
    const config = parseConfig(`${minimal}[watchdog]\nmpv_ipc_timeout_ms = 10000\n`, "x.toml");
    expect(config.watchdog).toEqual({ mpvIpcTimeoutMs: 10_000, mpvStartTimeoutMs: 15_000, mpvStallMs: 5_000 });
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
    [`${minimal}[watchdog]\nmpv_ipc_timeout_ms = 50`, /watchdog\.mpv_ipc_timeout_ms: .*>=100/],
    [`${minimal}[watchdog]\nmpv_ipc_timeout_ms = 2500.5`, /watchdog\.mpv_ipc_timeout_ms: .*expected int/],
    [`${minimal}[watchdog]\nmpv_start_timeout_ms = 120000`, /watchdog\.mpv_start_timeout_ms: .*<=110000/],
    [`${minimal}[watchdog]\nmpv_stall_ms = 1000`, /watchdog\.mpv_stall_ms: .*>=2000/],
    [`${minimal}[watchdog]\nmpv_stall_ms = "5s"`, /watchdog\.mpv_stall_ms: .*number/],
    [`${minimal}[watchdog]\nmpv_ipc_timeout = 3000`, /unknown key "mpv_ipc_timeout" in \[watchdog\]/],
    [`${minimal}[update]\nhealth_deadline_seconds = 10`, /update\.health_deadline_seconds: .*>=60/],
    [`${minimal}[update]\nreboot_after_failed_gate = "yes"`, /update\.reboot_after_failed_gate: .*boolean/],
  ])("refuses %j with a message naming the key", (text, message) => {
    expect(() => parseConfig(text, "/boot/firmware/avtech.toml")).toThrow(ConfigError);
    expect(() => parseConfig(text, "/boot/firmware/avtech.toml")).toThrow(message);
  });
});
