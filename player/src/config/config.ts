import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parse as parseToml, TomlError } from "smol-toml";
import { z } from "zod";

/** Where the image puts the per-site config (the FAT boot partition, editable from any PC). */
export const defaultConfigPath = "/boot/firmware/avtech.toml";

const logLevels = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

const mpvSchema = z
  .object({
    /** mpv `--vo`; default "gpu" (DRM/KMS on the image, no desktop). */
    vo: z.string().min(1).default("gpu"),
    /** mpv `--hwdec`; default "auto-safe". */
    hwdec: z.string().min(1).default("auto-safe"),
    /** mpv `--audio-device`; default "auto". */
    audio_device: z.string().min(1).default("auto"),
    /** Start volume 0..100 until a desired state sets one; default 100. */
    volume: z.number().int().min(0).max(100).default(100),
    /** Extra mpv arguments, appended last; default none. */
    extra_args: z.array(z.string()).default([]),
  })
  .strict();

/** Today's mpv watchdog limits (the playback module's own defaults), kept in one place for the schema. */
const watchdogDefaults = { mpv_ipc_timeout_ms: 2_000, mpv_start_timeout_ms: 15_000, mpv_stall_ms: 5_000 } as const;

const watchdogSchema = z
  .object({
    /** mpv must answer any IPC command within this, or it is killed and restarted; default 2 000 ms. */
    mpv_ipc_timeout_ms: z.number().int().min(100).max(120_000).default(watchdogDefaults.mpv_ipc_timeout_ms),
    /**
     * How long start-up waits for mpv's first answer before going on without it; default 15 000 ms.
     * Capped below the unit's TimeoutStartSec (120 s), which covers this wait.
     */
    mpv_start_timeout_ms: z.number().int().min(1_000).max(110_000).default(watchdogDefaults.mpv_start_timeout_ms),
    /**
     * While a playlist plays, mpv's `time-pos` must advance within this; default 5 000 ms. At least
     * 2 s, because position is probed once a second.
     */
    mpv_stall_ms: z.number().int().min(2_000).max(600_000).default(watchdogDefaults.mpv_stall_ms),
  })
  .strict();

const updateSchema = z
  .object({
    /** How long a newly booted OS slot has to prove healthy before it is given up; default 300 s. */
    health_deadline_seconds: z.number().int().min(60).max(3_600).default(300),
    /** After a failed health gate, reboot so the bootloader goes back to the old slot; default true. */
    reboot_after_failed_gate: z.boolean().default(true),
  })
  .strict();

const schema = z
  .object({
    control_plane_url: z.url({ protocol: /^https?$/ }),
    ca_cert_path: z.string().min(1).optional(),
    enrollment_key: z.string().min(1).optional(),
    pairing: z.boolean().default(false),
    data_dir: z.string().startsWith("/").default("/var/lib/avtech"),
    media_dir: z.string().startsWith("/").optional(),
    max_media_bytes: z
      .number()
      .int()
      .positive()
      .default(8 * 1024 ** 3),
    min_free_bytes: z
      .number()
      .int()
      .nonnegative()
      .default(512 * 1024 ** 2),
    heartbeat_interval_seconds: z.number().int().min(5).max(300).default(15),
    display_rotation: z.union([z.literal(0), z.literal(90), z.literal(180), z.literal(270)]).default(0),
    timezone: z.string().min(1).optional(),
    log_level: z.enum(logLevels).default("info"),
    mpv: mpvSchema.default({ vo: "gpu", hwdec: "auto-safe", audio_device: "auto", volume: 100, extra_args: [] }),
    watchdog: watchdogSchema.default(watchdogDefaults),
    update: updateSchema.default({ health_deadline_seconds: 300, reboot_after_failed_gate: true }),
  })
  .strict();

/** The mpv section of {@link PlayerConfig}. */
export interface MpvConfig {
  readonly vo: string;
  readonly hwdec: string;
  readonly audioDevice: string;
  readonly volume: number;
  readonly extraArgs: readonly string[];
}

/** The `[watchdog]` section of {@link PlayerConfig}: when the player declares mpv unhealthy. */
export interface WatchdogConfig {
  readonly mpvIpcTimeoutMs: number;
  readonly mpvStartTimeoutMs: number;
  readonly mpvStallMs: number;
}

/** The `[update]` section of {@link PlayerConfig}: the OS update's health gate. */
export interface UpdateConfig {
  readonly healthDeadlineSeconds: number;
  readonly rebootAfterFailedGate: boolean;
}

/** How the screen joins a tenant. */
export type Enrollment = { readonly kind: "enrollmentKey"; readonly key: string } | { readonly kind: "pairing" };

/** The player's validated, frozen configuration. Every key and default is listed in player/README.md. */
export interface PlayerConfig {
  /** The file it was read from, for messages. */
  readonly sourcePath: string;
  readonly controlPlaneUrl: string;
  readonly caCertPath: string | undefined;
  readonly enrollment: Enrollment;
  readonly dataDir: string;
  readonly mediaDir: string;
  readonly maxMediaBytes: number;
  readonly minFreeBytes: number;
  readonly heartbeatIntervalSeconds: number;
  readonly displayRotation: 0 | 90 | 180 | 270;
  /** Overrides the desired state's time zone when set. */
  readonly timezone: string | undefined;
  readonly logLevel: (typeof logLevels)[number];
  readonly mpv: MpvConfig;
  readonly watchdog: WatchdogConfig;
  readonly update: UpdateConfig;
}

/** An operator-facing configuration error: printed without a stack. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/**
 * Parses and validates the text of an avtech.toml. Throws {@link ConfigError} naming the file,
 * the key and the fix. Exactly one of `enrollment_key` and `pairing = true` must be given.
 */
export function parseConfig(text: string, sourcePath: string): PlayerConfig {
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (error) {
    const where = error instanceof TomlError ? ` at line ${error.line}, column ${error.column}` : "";
    throw new ConfigError(`${sourcePath}: not valid TOML${where}: ${firstLine(error)}. Fix the syntax and restart.`, {
      cause: error,
    });
  }
  // reportInput: without it zod leaves `issue.input` unset, and a wrongly typed value would read as missing.
  const result = schema.safeParse(raw, { reportInput: true });
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `  - ${describeIssue(issue)}`).join("\n");
    throw new ConfigError(`${sourcePath}: invalid configuration:\n${problems}`);
  }
  const c = result.data;
  if (c.enrollment_key !== undefined && c.pairing) {
    throw new ConfigError(
      `${sourcePath}: both enrollment_key and pairing = true are set; keep enrollment_key to join its tenant at once, or remove it to pair with a code.`,
    );
  }
  if (c.enrollment_key === undefined && !c.pairing) {
    throw new ConfigError(
      `${sourcePath}: set enrollment_key = "<key from the console>" or pairing = true to show a pairing code on screen.`,
    );
  }
  if (c.timezone !== undefined && !isTimeZone(c.timezone)) {
    throw new ConfigError(`${sourcePath}: timezone "${c.timezone}" is not an IANA zone name (e.g. "Europe/Madrid").`);
  }
  return deepFreeze({
    sourcePath,
    controlPlaneUrl: c.control_plane_url.replace(/\/+$/, ""),
    caCertPath: c.ca_cert_path,
    enrollment: c.enrollment_key === undefined ? { kind: "pairing" } : { kind: "enrollmentKey", key: c.enrollment_key },
    dataDir: c.data_dir,
    mediaDir: c.media_dir ?? join(c.data_dir, "media"),
    maxMediaBytes: c.max_media_bytes,
    minFreeBytes: c.min_free_bytes,
    heartbeatIntervalSeconds: c.heartbeat_interval_seconds,
    displayRotation: c.display_rotation,
    timezone: c.timezone,
    logLevel: c.log_level,
    mpv: {
      vo: c.mpv.vo,
      hwdec: c.mpv.hwdec,
      audioDevice: c.mpv.audio_device,
      volume: c.mpv.volume,
      extraArgs: c.mpv.extra_args,
    },
    watchdog: {
      mpvIpcTimeoutMs: c.watchdog.mpv_ipc_timeout_ms,
      mpvStartTimeoutMs: c.watchdog.mpv_start_timeout_ms,
      mpvStallMs: c.watchdog.mpv_stall_ms,
    },
    update: {
      healthDeadlineSeconds: c.update.health_deadline_seconds,
      rebootAfterFailedGate: c.update.reboot_after_failed_gate,
    },
  } satisfies PlayerConfig);
}

/** Reads and parses the config file at `path` (see {@link parseConfig}). */
export async function loadConfig(path: string): Promise<PlayerConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new ConfigError(
      `${path}: cannot read the config file (${firstLine(error)}); pass --config <path> or create it.`,
      {
        cause: error,
      },
    );
  }
  return parseConfig(text, path);
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const key = issue.path.map(String).join(".") || "(top level)";
  if (issue.code === "unrecognized_keys") {
    return `unknown key ${issue.keys.map((k) => JSON.stringify(k)).join(", ")}${key === "(top level)" ? "" : ` in [${key}]`}: remove it or check its spelling`;
  }
  if (issue.code === "invalid_type" && issue.input === undefined) return `${key}: required, add it`;
  return `${key}: ${issue.message}`;
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "";
}

function deepFreeze<T extends object>(value: T): T {
  for (const inner of Object.values(value)) {
    if (typeof inner === "object" && inner !== null) deepFreeze(inner);
  }
  return Object.freeze(value);
}
