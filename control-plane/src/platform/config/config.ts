import { z } from "zod";
import { defaultRateLimits } from "../rate-limit/index.ts";

const mib = 1024 * 1024;

/**
 * Defaults of the fleet's operator settings (`fleet.*` below). The schema owns them, like every
 * other key's default, and the fleet's `defaultFleetConfig` (src/fleet/fleet/config.ts) takes its
 * values for these keys from here, so the fleet services built without a config file behave as a
 * process started with none.
 */
export const fleetSettingDefaults = {
  heartbeatIntervalSeconds: 15,
  pairingTtlSeconds: 600,
  commandTtlSeconds: 3600,
  healthSampleSeconds: 60,
} as const;

/**
 * Defaults of the proof-of-play and report settings (`reports.*` below), owned by the schema like
 * every other key's; src/fleet/report reads them from the validated config.
 */
export const reportSettingDefaults = {
  rawRetentionDays: 7,
  rollupRetentionMonths: 13,
  maxRangeDays: 400,
  ingestFlushMs: 1000,
} as const;

/**
 * Defaults of the alert settings (`alerts.*` below); src/fleet/alert reads them from the validated
 * config.
 */
export const alertSettingDefaults = {
  evaluateEverySeconds: 15,
  groupWindowSeconds: 60,
  groupMinAlerts: 5,
  maxNotificationsPerMinute: 10,
  maxAttempts: 8,
  retryBaseSeconds: 10,
  retryMaxSeconds: 3600,
  deliveryTimeoutSeconds: 10,
  smtpFrom: "AVTech alerts <alerts@localhost>",
} as const;

/** Defaults of `blobStore.presign` (pre-signed asset URLs, S3 store only). */
export const presignDefaults = { expiresSeconds: 3600 } as const;

/**
 * Longest `blobStore.presign.expiresSeconds`: a URL is signed to live two buckets of this length,
 * and S3 (SigV4) refuses pre-signed URLs valid for more than 7 days (604,800 s).
 */
export const maxPresignExpiresSeconds = 302_400;

/** Whole numbers in `min..max`; out of range, the message gives the range and the unit. */
function wholeBetween(min: number, max: number, unit: string) {
  const range = `must be ${min}..${max} ${unit}`;
  return z.number().int(`must be whole ${unit}`).min(min, range).max(max, range);
}

/** Longest command time-to-live (7 days): the limit of `fleet.commandTtlSeconds` and of SendCommand's ttl_seconds. */
export const maxCommandTtlSeconds = 7 * 24 * 3600;

const rawRetentionRange = "must be 1..90 days: 90 days of raw events at 1,000 a second is ~8 billion rows";

const logLevels = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/** Whole seconds in `min..max`; out of range, the message gives the range and `why`. */
function secondsBetween(min: number, max: number, why: string) {
  const range = `must be ${min}..${max} seconds: ${why}`;
  return z.number().int("must be whole seconds").min(min, range).max(max, range);
}

/** The validated shape of the control plane's configuration. Defaults are documented in control-plane/README.md. */
/** A token bucket's settings, defaulting to `defaults`. */
function bucketLimits(defaults: { burst: number; perSecond: number }) {
  return z
    .object({
      burst: z.number().int().positive().default(defaults.burst),
      perSecond: z.number().positive().default(defaults.perSecond),
    })
    .strict()
    .prefault({});
}

export const configSchema = z
  .object({
    listen: z
      .object({
        /** Interface to bind. */
        host: z.string().min(1).default("0.0.0.0"),
        /** gRPC over h2c without TLS; with TLS the single port for every protocol. */
        port: z.number().int().min(0).max(65535).default(8080),
        /** HTTP/1.1 port for gRPC-Web, Connect and plain HTTP routes; used only without TLS. */
        http1Port: z.number().int().min(0).max(65535).default(8081),
        /**
         * Addresses of load balancers in front (HAProxy with `option forwardfor`): for their connections
         * the client address (rate limits, the fleet view) is read from X-Forwarded-For. Default none.
         */
        trustedProxies: z.array(z.union([z.ipv4(), z.ipv6()])).default([]),
      })
      .prefault({}),
    tls: z
      .object({
        certFile: z.string().min(1).optional(),
        keyFile: z.string().min(1).optional(),
      })
      .prefault({})
      .refine((tls) => (tls.certFile === undefined) === (tls.keyFile === undefined), {
        message: "set both tls.certFile (AVTECH_TLS_CERT) and tls.keyFile (AVTECH_TLS_KEY), or neither",
      }),
    database: z
      .object({
        /** postgres:// URL; when unset an embedded PostgreSQL runs in embeddedDataDir. */
        url: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
        embeddedDataDir: z.string().min(1).default(".data/postgres"),
      })
      .prefault({}),
    blobDir: z.string().min(1).default(".data/blobs"),
    /**
     * Where blobs (videos, thumbnails, OS bundles) live: "file" (default) under blobDir, or "s3" in an
     * S3-compatible bucket, which every replica on every machine shares. Upload temp files stay in
     * blobDir/tmp either way (ingest hashes and probes a local file before it is stored).
     */
    blobStore: z
      .discriminatedUnion(
        "kind",
        [
          z
            .object({
              kind: z.literal("file"),
              // Named here only to refuse it with a message that says what to change (strict would say "unrecognized key").
              presign: z
                .undefined({
                  error:
                    'pre-signed URLs need the S3 store: set blobStore.kind to "s3" (AVTECH_BLOB_STORE=s3) or drop blobStore.presign',
                })
                .optional(),
            })
            .strict(),
          z
            .object({
              kind: z.literal("s3"),
              /** e.g. http://minio.internal:9000; unset = AWS for `region`. */
              endpoint: z.url({ protocol: /^https?$/ }).optional(),
              region: z.string().min(1).default("us-east-1"),
              bucket: z.string().min(3),
              /** Both or neither; neither = the AWS SDK's default chain (AWS_* environment, instance role). */
              accessKeyId: z.string().min(1).optional(),
              secretAccessKey: z.string().min(1).optional(),
              /** Path-style URLs, which MinIO and Ceph RGW expect; default true. */
              forcePathStyle: z.boolean().default(true),
              /**
               * When set, a screen's GET /assets/<sha256> (device token and tenant checked as always) is answered
               * with a redirect to a pre-signed GET URL of the object instead of the bytes, so the object store
               * or a CDN in front of it carries the downloads. Unset = every download goes through a replica.
               */
              presign: z
                .object({
                  /**
                   * The least time a URL handed out stays valid. URLs are signed per time bucket of this length
                   * (one identical URL per object per bucket, which a CDN can cache) and live two buckets.
                   */
                  expiresSeconds: z
                    .number()
                    .int("must be whole seconds")
                    .min(1, "must be a positive number of seconds")
                    .max(
                      maxPresignExpiresSeconds,
                      `must be at most ${maxPresignExpiresSeconds} seconds: URLs live twice this, and S3 refuses pre-signed URLs valid for more than 7 days`,
                    )
                    .default(presignDefaults.expiresSeconds),
                  /**
                   * e.g. https://cdn.example.com: replaces the scheme, host and port of the signed URL (its path is
                   * prefixed), so screens fetch through a CDN that forwards path and query to the store. Unset = the
                   * store's own URL.
                   */
                  publicBaseUrl: z
                    .url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" })
                    .optional(),
                })
                .strict()
                .optional(),
            })
            .strict()
            .refine((s3) => (s3.accessKeyId === undefined) === (s3.secretAccessKey === undefined), {
              message: "set both blobStore.accessKeyId and blobStore.secretAccessKey, or neither",
            }),
        ],
        {
          // Reached when S3 or presign settings come without a kind (e.g. only AVTECH_S3_PRESIGN_EXPIRES_SECONDS).
          error: 'must be "file" or "s3" (AVTECH_BLOB_STORE); the S3 settings and blobStore.presign need "s3"',
        },
      )
      .default({ kind: "file" }),
    limits: z
      .object({
        maxUploadBytes: z
          .number()
          .int()
          .positive()
          .default(100 * mib),
        minDurationMs: z.number().int().positive().default(1000),
        maxDurationMs: z.number().int().positive().default(20_000),
        maxWidth: z.number().int().positive().default(1920),
        maxHeight: z.number().int().positive().default(1080),
        allowedCodecs: z.array(z.string().min(1)).min(1).default(["h264"]),
        /** Largest single message on the wire; uploads arrive in chunks of at most 1 MiB. */
        readMaxBytes: z
          .number()
          .int()
          .positive()
          .default(4 * mib),
        maxConcurrentStreams: z.number().int().positive().default(1000),
        /** Largest OS update bundle (UploadRelease); RAUC bundles of a full root file system are large. */
        maxBundleBytes: z
          .number()
          .int()
          .positive()
          .default(1024 * mib),
      })
      .prefault({})
      .refine((limits) => limits.minDurationMs <= limits.maxDurationMs, {
        message: "limits.minDurationMs must not exceed limits.maxDurationMs",
      }),
    defaultTenantQuota: z
      .object({
        storageBytes: z
          .number()
          .int()
          .positive()
          .default(10 * 1024 * mib),
        screens: z.number().int().positive().default(100),
      })
      .prefault({}),
    /** Operator settings of the fleet and device services (`FleetConfig` in src/fleet/fleet/config.ts), defaults in {@link fleetSettingDefaults}. */
    /**
     * Limits of the unauthenticated Register and CompletePairing calls, per client address and in all,
     * in each process. Behind a load balancer every screen arrives from the balancer's address, so the
     * per-address bucket there limits the whole fleet: raise it to what the global one allows.
     */
    registrationLimits: z
      .object({
        perIp: bucketLimits(defaultRateLimits.perIp),
        global: bucketLimits(defaultRateLimits.global),
      })
      .strict()
      .prefault({}),
    fleet: z
      .object({
        /** Told to screens in Welcome; offline after 3 missed. */
        heartbeatIntervalSeconds: secondsBetween(
          5,
          300,
          "players ignore other intervals (DeviceConfig in device.proto)",
        ).default(fleetSettingDefaults.heartbeatIntervalSeconds),
        /** Lifetime of a pairing code: long enough to read it off a screen and type it, short per RFC 8628. */
        pairingTtlSeconds: secondsBetween(
          60,
          15 * 60,
          "a person needs time to type the code, and codes live at most 15 minutes",
        ).default(fleetSettingDefaults.pairingTtlSeconds),
        /** Command time-to-live when SendCommand gives none. */
        commandTtlSeconds: secondsBetween(1, maxCommandTtlSeconds, "SendCommand accepts at most 7 days").default(
          fleetSettingDefaults.commandTtlSeconds,
        ),
        /** The health history keeps one heartbeat's health per screen per this many seconds. */
        healthSampleSeconds: secondsBetween(
          5,
          3600,
          "a sample per heartbeat at most, and one an hour still draws a chart",
        ).default(fleetSettingDefaults.healthSampleSeconds),
      })
      // Strict like the root, so a misspelt fleet key stops the process instead of leaving the default.
      .strict()
      .prefault({}),
    /**
     * Over-the-air OS updates (src/fleet/update). Without `compatible` and `keyringPath` the control
     * plane refuses every bundle upload (FAILED_PRECONDITION naming the missing key); rollouts of
     * releases already uploaded still run.
     */
    update: z
      .object({
        /** The RAUC `compatible` of this fleet's OS image; a bundle whose manifest names another is refused. */
        compatible: z.string().min(1).max(200).optional(),
        /** PEM file of the CA (keyring) bundle signatures must chain to, as on the screens (`rauc info --keyring`). */
        keyringPath: z.string().min(1).optional(),
        /** The `rauc` program that checks uploaded bundles. */
        raucPath: z.string().min(1).default("/usr/bin/rauc"),
      })
      .strict()
      .prefault({}),
    /** Proof of play and reports (src/fleet/report), defaults in {@link reportSettingDefaults}. */
    reports: z
      .object({
        /** Days raw play events are kept (daily partitions, dropped whole); rollups outlive them. */
        rawRetentionDays: z
          .number()
          .int("must be whole days")
          .min(1, rawRetentionRange)
          .max(90, rawRetentionRange)
          .default(reportSettingDefaults.rawRetentionDays),
        /** Months the hourly rollups (plays, uptime) are kept (monthly partitions, dropped whole). */
        rollupRetentionMonths: z
          .number()
          .int("must be whole months")
          .min(1, "must be 1..120 months")
          .max(120, "must be 1..120 months")
          .default(reportSettingDefaults.rollupRetentionMonths),
        /** Longest range one report covers. */
        maxRangeDays: z
          .number()
          .int("must be whole days")
          .min(1, "must be 1..3660 days")
          .max(3660, "must be 1..3660 days")
          .default(reportSettingDefaults.maxRangeDays),
        /** How long play events wait in memory to be written together (one statement per batch). */
        ingestFlushMs: z
          .number()
          .int("must be whole milliseconds")
          .min(10, "must be 10..10000 ms: a screen's stream waits this long for its events to be stored")
          .max(10_000, "must be 10..10000 ms: a screen's stream waits this long for its events to be stored")
          .default(reportSettingDefaults.ingestFlushMs),
      })
      .strict()
      .prefault({}),
    /** Alerts (src/fleet/alert), defaults in {@link alertSettingDefaults}. */
    alerts: z
      .object({
        /** How often the rules are evaluated and due notifications delivered. */
        evaluateEverySeconds: wholeBetween(1, 300, "seconds").default(alertSettingDefaults.evaluateEverySeconds),
        /** A tenant's alert changes wait this long from the first, so screens failing together make one notification. */
        groupWindowSeconds: wholeBetween(0, 600, "seconds").default(alertSettingDefaults.groupWindowSeconds),
        /** Changes of one rule at once that make one grouped notification. */
        groupMinAlerts: wholeBetween(2, 100_000, "alerts").default(alertSettingDefaults.groupMinAlerts),
        /** Notifications per channel per minute, at most; beyond it, changes are folded into one. */
        maxNotificationsPerMinute: wholeBetween(1, 1000, "notifications").default(
          alertSettingDefaults.maxNotificationsPerMinute,
        ),
        /** Delivery attempts before a notification becomes a dead letter. */
        maxAttempts: wholeBetween(1, 50, "attempts").default(alertSettingDefaults.maxAttempts),
        /** First retry delay cap (doubling per attempt, full jitter). */
        retryBaseSeconds: wholeBetween(1, 3600, "seconds").default(alertSettingDefaults.retryBaseSeconds),
        /** Longest retry delay. */
        retryMaxSeconds: wholeBetween(1, 86_400, "seconds").default(alertSettingDefaults.retryMaxSeconds),
        /** One delivery attempt's time limit (webhook request, SMTP connection). */
        deliveryTimeoutSeconds: wholeBetween(1, 120, "seconds").default(alertSettingDefaults.deliveryTimeoutSeconds),
        smtp: z
          .object({
            /** smtp:// or smtps:// URL of the server alert e-mail goes through (user:password@ in it if needed); unset = no e-mail channels. */
            url: z.url({ protocol: /^smtps?$/, error: "must be an smtp:// or smtps:// URL" }).optional(),
            /** The From address of alert e-mail. */
            from: z.string().min(3).default(alertSettingDefaults.smtpFrom),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({})
      .refine((alerts) => alerts.retryBaseSeconds <= alerts.retryMaxSeconds, {
        message: "alerts.retryBaseSeconds must not exceed alerts.retryMaxSeconds",
      }),
    sessionTtlHours: z.number().positive().default(12),
    ffprobePath: z.string().min(1).default("/usr/bin/ffprobe"),
    ffmpegPath: z.string().min(1).default("/usr/bin/ffmpeg"),
    logLevel: z.enum(logLevels).default("info"),
  })
  .strict();

/** The control plane's configuration: validated, with defaults applied, deeply frozen. */
export type Config = z.infer<typeof configSchema>;

/** What {@link configSchema} accepts before defaults (the shape of the optional JSON file). */
export type ConfigInput = z.input<typeof configSchema>;
