import { readFileSync } from "node:fs";
import { type Config, type ConfigInput, configSchema } from "./config.ts";

/** Raised for any configuration problem; the message lists every problem with the key to fix. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Where {@link loadConfig} reads from; defaults to the process environment and the real file system. */
export interface ConfigSources {
  env?: Record<string, string | undefined>;
  readFile?: (path: string) => string;
  /** Values that win over file and environment (tests, embedding). */
  overrides?: ConfigInput;
}

type Setter = (target: Record<string, unknown>, raw: string) => void;

/** Environment variable → config key. Numbers are parsed here so zod reports the key, not a type mismatch. */
const envKeys: Record<string, Setter> = {
  AVTECH_HOST: (c, v) => setPath(c, ["listen", "host"], v),
  AVTECH_PORT: (c, v) => setPath(c, ["listen", "port"], toNumber(v)),
  AVTECH_HTTP1_PORT: (c, v) => setPath(c, ["listen", "http1Port"], toNumber(v)),
  AVTECH_TRUSTED_PROXIES: (c, v) =>
    setPath(
      c,
      ["listen", "trustedProxies"],
      v
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean),
    ),
  AVTECH_TLS_CERT: (c, v) => setPath(c, ["tls", "certFile"], v),
  AVTECH_TLS_KEY: (c, v) => setPath(c, ["tls", "keyFile"], v),
  DATABASE_URL: (c, v) => setPath(c, ["database", "url"], v),
  AVTECH_PG_DATA_DIR: (c, v) => setPath(c, ["database", "embeddedDataDir"], v),
  AVTECH_BLOB_DIR: (c, v) => setPath(c, ["blobDir"], v),
  AVTECH_BLOB_STORE: (c, v) => setPath(c, ["blobStore", "kind"], v),
  AVTECH_S3_ENDPOINT: (c, v) => setPath(c, ["blobStore", "endpoint"], v),
  AVTECH_S3_REGION: (c, v) => setPath(c, ["blobStore", "region"], v),
  AVTECH_S3_BUCKET: (c, v) => setPath(c, ["blobStore", "bucket"], v),
  AVTECH_S3_ACCESS_KEY_ID: (c, v) => setPath(c, ["blobStore", "accessKeyId"], v),
  AVTECH_S3_SECRET_ACCESS_KEY: (c, v) => setPath(c, ["blobStore", "secretAccessKey"], v),
  AVTECH_S3_FORCE_PATH_STYLE: (c, v) => setPath(c, ["blobStore", "forcePathStyle"], v !== "false"),
  AVTECH_S3_PRESIGN_EXPIRES_SECONDS: (c, v) => setPath(c, ["blobStore", "presign", "expiresSeconds"], toNumber(v)),
  AVTECH_S3_PRESIGN_PUBLIC_BASE_URL: (c, v) => setPath(c, ["blobStore", "presign", "publicBaseUrl"], v),
  AVTECH_MAX_UPLOAD_BYTES: (c, v) => setPath(c, ["limits", "maxUploadBytes"], toNumber(v)),
  AVTECH_MIN_DURATION_MS: (c, v) => setPath(c, ["limits", "minDurationMs"], toNumber(v)),
  AVTECH_MAX_DURATION_MS: (c, v) => setPath(c, ["limits", "maxDurationMs"], toNumber(v)),
  AVTECH_MAX_WIDTH: (c, v) => setPath(c, ["limits", "maxWidth"], toNumber(v)),
  AVTECH_MAX_HEIGHT: (c, v) => setPath(c, ["limits", "maxHeight"], toNumber(v)),
  AVTECH_ALLOWED_CODECS: (c, v) =>
    setPath(
      c,
      ["limits", "allowedCodecs"],
      v
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean),
    ),
  AVTECH_READ_MAX_BYTES: (c, v) => setPath(c, ["limits", "readMaxBytes"], toNumber(v)),
  AVTECH_MAX_CONCURRENT_STREAMS: (c, v) => setPath(c, ["limits", "maxConcurrentStreams"], toNumber(v)),
  AVTECH_REGISTRATION_PER_IP_BURST: (c, v) => setPath(c, ["registrationLimits", "perIp", "burst"], toNumber(v)),
  AVTECH_REGISTRATION_PER_IP_PER_SECOND: (c, v) =>
    setPath(c, ["registrationLimits", "perIp", "perSecond"], toNumber(v)),
  AVTECH_HEARTBEAT_INTERVAL_SECONDS: (c, v) => setPath(c, ["fleet", "heartbeatIntervalSeconds"], toNumber(v)),
  AVTECH_PAIRING_TTL_SECONDS: (c, v) => setPath(c, ["fleet", "pairingTtlSeconds"], toNumber(v)),
  AVTECH_COMMAND_TTL_SECONDS: (c, v) => setPath(c, ["fleet", "commandTtlSeconds"], toNumber(v)),
  AVTECH_HEALTH_SAMPLE_SECONDS: (c, v) => setPath(c, ["fleet", "healthSampleSeconds"], toNumber(v)),
  AVTECH_MAX_BUNDLE_BYTES: (c, v) => setPath(c, ["limits", "maxBundleBytes"], toNumber(v)),
  AVTECH_UPDATE_COMPATIBLE: (c, v) => setPath(c, ["update", "compatible"], v),
  AVTECH_UPDATE_KEYRING: (c, v) => setPath(c, ["update", "keyringPath"], v),
  AVTECH_RAUC: (c, v) => setPath(c, ["update", "raucPath"], v),
  AVTECH_PLAY_EVENT_RETENTION_DAYS: (c, v) => setPath(c, ["reports", "rawRetentionDays"], toNumber(v)),
  AVTECH_PLAY_ROLLUP_RETENTION_MONTHS: (c, v) => setPath(c, ["reports", "rollupRetentionMonths"], toNumber(v)),
  AVTECH_REPORT_MAX_RANGE_DAYS: (c, v) => setPath(c, ["reports", "maxRangeDays"], toNumber(v)),
  AVTECH_PLAY_EVENT_FLUSH_MS: (c, v) => setPath(c, ["reports", "ingestFlushMs"], toNumber(v)),
  AVTECH_ALERT_EVALUATE_SECONDS: (c, v) => setPath(c, ["alerts", "evaluateEverySeconds"], toNumber(v)),
  AVTECH_SMTP_URL: (c, v) => setPath(c, ["alerts", "smtp", "url"], v),
  AVTECH_SMTP_FROM: (c, v) => setPath(c, ["alerts", "smtp", "from"], v),
  AVTECH_SESSION_TTL_HOURS: (c, v) => setPath(c, ["sessionTtlHours"], toNumber(v)),
  AVTECH_FFPROBE: (c, v) => setPath(c, ["ffprobePath"], v),
  AVTECH_FFMPEG: (c, v) => setPath(c, ["ffmpegPath"], v),
  LOG_LEVEL: (c, v) => setPath(c, ["logLevel"], v),
};

/**
 * Builds the one configuration of the process: defaults, then the JSON file named by
 * `AVTECH_CONFIG` (if set), then environment variables, then `overrides`. Throws
 * {@link ConfigError} naming every bad key, so the process fails at start, not at first use.
 */
export function loadConfig(sources: ConfigSources = {}): Config {
  const env = sources.env ?? process.env;
  const readFile = sources.readFile ?? ((path: string) => readFileSync(path, "utf8"));
  const merged: Record<string, unknown> = {};
  const file = env.AVTECH_CONFIG;
  if (file) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFile(file));
    } catch (error) {
      throw new ConfigError(`cannot read config file ${file} (AVTECH_CONFIG): ${(error as Error).message}`);
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw new ConfigError(`config file ${file} must hold a JSON object`);
    }
    deepMerge(merged, parsed as Record<string, unknown>);
  }
  for (const [name, set] of Object.entries(envKeys)) {
    const value = env[name];
    if (value !== undefined && value !== "") set(merged, value);
  }
  if (sources.overrides) deepMerge(merged, sources.overrides as Record<string, unknown>);
  const result = configSchema.safeParse(merged);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `  ${issue.path.join(".") || "(root)"}: ${issue.message}`);
    throw new ConfigError(`invalid configuration:\n${problems.join("\n")}`);
  }
  return deepFreeze(result.data);
}

function toNumber(raw: string): number | string {
  const n = Number(raw);
  // A non-number stays a string so validation names the key and says a number was expected.
  return raw.trim() !== "" && Number.isFinite(n) ? n : raw;
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== "object" || next === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1] as string] = value;
}

function deepMerge(target: Record<string, unknown>, source: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(source)) {
    const existing = target[key];
    if (isPlainObject(value) && isPlainObject(existing)) deepMerge(existing, value);
    else if (isPlainObject(value)) {
      const copy: Record<string, unknown> = {};
      deepMerge(copy, value);
      target[key] = copy;
    } else target[key] = value;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
