import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./index.ts";

describe("loadConfig", () => {
  it("applies the documented defaults", () => {
    const config = loadConfig({ env: {} });
    expect(config.listen).toEqual({ host: "0.0.0.0", port: 8080, http1Port: 8081, trustedProxies: [] });
    expect(config.limits.maxUploadBytes).toBe(100 * 1024 * 1024);
    expect(config.limits.minDurationMs).toBe(1000);
    expect(config.limits.maxDurationMs).toBe(20_000);
    expect(config.limits.allowedCodecs).toEqual(["h264"]);
    expect(config.logLevel).toBe("info");
  });

  it("reads environment variables over the file", () => {
    const config = loadConfig({
      env: { AVTECH_CONFIG: "/etc/avtech.json", AVTECH_PORT: "9000", AVTECH_ALLOWED_CODECS: "h264, hevc" },
      readFile: () => JSON.stringify({ listen: { port: 7000, host: "127.0.0.1" }, blobDir: "/srv/blobs" }),
    });
    expect(config.listen.port).toBe(9000);
    expect(config.listen.host).toBe("127.0.0.1");
    expect(config.blobDir).toBe("/srv/blobs");
    expect(config.limits.allowedCodecs).toEqual(["h264", "hevc"]);
  });

  it("keeps the registration limits' defaults and lets the per-address bucket be raised behind a balancer", () => {
    expect(loadConfig({ env: {} }).registrationLimits).toEqual({
      perIp: { burst: 60, perSecond: 1 },
      global: { burst: 500, perSecond: 100 },
    });
    const behindBalancer = loadConfig({
      env: { AVTECH_REGISTRATION_PER_IP_BURST: "500", AVTECH_REGISTRATION_PER_IP_PER_SECOND: "100" },
    });
    expect(behindBalancer.registrationLimits.perIp).toEqual({ burst: 500, perSecond: 100 });
  });

  it("keeps blobs in files by default and in an S3 bucket when blobStore.kind is s3", () => {
    expect(loadConfig({ env: {} }).blobStore).toEqual({ kind: "file" });
    const s3 = loadConfig({
      env: {
        AVTECH_BLOB_STORE: "s3",
        AVTECH_S3_ENDPOINT: "http://minio.internal:9000",
        AVTECH_S3_BUCKET: "avtech",
        AVTECH_S3_ACCESS_KEY_ID: "key",
        AVTECH_S3_SECRET_ACCESS_KEY: "secret",
      },
    });
    expect(s3.blobStore).toEqual({
      kind: "s3",
      endpoint: "http://minio.internal:9000",
      region: "us-east-1",
      bucket: "avtech",
      accessKeyId: "key",
      secretAccessKey: "secret",
      forcePathStyle: true,
    });
  });

  it("stops on an S3 store without a bucket, with half its credentials, or S3 keys on the file store", () => {
    expect(() => loadConfig({ env: { AVTECH_BLOB_STORE: "s3" } })).toThrow(ConfigError);
    expect(() =>
      loadConfig({ env: { AVTECH_BLOB_STORE: "s3", AVTECH_S3_BUCKET: "avtech", AVTECH_S3_ACCESS_KEY_ID: "key" } }),
    ).toThrow(/accessKeyId.*secretAccessKey/);
    expect(() => loadConfig({ env: { AVTECH_S3_BUCKET: "avtech" } })).toThrow(ConfigError);
  });

  it("turns on pre-signed asset URLs for the S3 store with blobStore.presign or its environment variables", () => {
    const s3 = { AVTECH_BLOB_STORE: "s3", AVTECH_S3_BUCKET: "avtech" };
    expect(loadConfig({ env: s3 }).blobStore).not.toHaveProperty("presign");
    expect(
      loadConfig({ env: s3, overrides: { blobStore: { kind: "s3", bucket: "avtech", presign: {} } } }).blobStore,
    ).toMatchObject({ presign: { expiresSeconds: 3600 } });
    expect(
      loadConfig({
        env: {
          ...s3,
          AVTECH_S3_PRESIGN_EXPIRES_SECONDS: "600",
          AVTECH_S3_PRESIGN_PUBLIC_BASE_URL: "https://cdn.example.com/media",
        },
      }).blobStore,
    ).toMatchObject({ presign: { expiresSeconds: 600, publicBaseUrl: "https://cdn.example.com/media" } });
  });

  it("stops on pre-signing without the S3 store, a non-positive or too long expiry, or a bad public URL, naming the key", () => {
    const messageOf = (env: Record<string, string>) => {
      try {
        loadConfig({ env });
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as Error).message;
      }
      throw new Error("the configuration was accepted");
    };
    expect(messageOf({ AVTECH_S3_PRESIGN_EXPIRES_SECONDS: "600" })).toMatch(
      /blobStore\.kind: must be "file" or "s3" \(AVTECH_BLOB_STORE\); the S3 settings and blobStore\.presign need "s3"/,
    );
    expect(messageOf({ AVTECH_BLOB_STORE: "file", AVTECH_S3_PRESIGN_EXPIRES_SECONDS: "600" })).toMatch(
      /blobStore\.presign: pre-signed URLs need the S3 store: set blobStore\.kind to "s3"/,
    );
    const s3 = { AVTECH_BLOB_STORE: "s3", AVTECH_S3_BUCKET: "avtech" };
    expect(messageOf({ ...s3, AVTECH_S3_PRESIGN_EXPIRES_SECONDS: "0" })).toMatch(
      /blobStore\.presign\.expiresSeconds: must be a positive number of seconds/,
    );
    expect(messageOf({ ...s3, AVTECH_S3_PRESIGN_EXPIRES_SECONDS: "-60" })).toMatch(
      /blobStore\.presign\.expiresSeconds: must be a positive/,
    );
    expect(messageOf({ ...s3, AVTECH_S3_PRESIGN_EXPIRES_SECONDS: "400000" })).toMatch(
      /blobStore\.presign\.expiresSeconds: must be at most 302400 seconds/,
    );
    expect(messageOf({ ...s3, AVTECH_S3_PRESIGN_PUBLIC_BASE_URL: "cdn.example.com" })).toMatch(
      /blobStore\.presign\.publicBaseUrl: must be an http/,
    );
  });

  it("reads the trusted proxies as a comma list of IP addresses and refuses anything else", () => {
    expect(loadConfig({ env: { AVTECH_TRUSTED_PROXIES: "10.0.0.2, ::1" } }).listen.trustedProxies).toEqual([
      "10.0.0.2",
      "::1",
    ]);
    expect(() => loadConfig({ env: { AVTECH_TRUSTED_PROXIES: "balancer.local" } })).toThrow(ConfigError);
  });

  it("is frozen", () => {
    const config = loadConfig({ env: {} });
    expect(Object.isFrozen(config.limits)).toBe(true);
    expect(() => {
      (config.limits as { maxUploadBytes: number }).maxUploadBytes = 1;
    }).toThrow();
  });

  it("names every bad key in one error", () => {
    const attempt = () =>
      loadConfig({ env: { AVTECH_PORT: "eighty", AVTECH_TLS_CERT: "/c.pem", DATABASE_URL: "mysql://x" } });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/listen\.port/);
    expect(attempt).toThrow(/tls\.keyFile/);
    expect(attempt).toThrow(/database\.url/);
  });

  it("refuses unknown keys in the file", () => {
    expect(() =>
      loadConfig({ env: { AVTECH_CONFIG: "/c.json" }, readFile: () => JSON.stringify({ blobdir: "/x" }) }),
    ).toThrow(/blobdir/);
  });

  it("refuses durations where the minimum exceeds the maximum", () => {
    expect(() => loadConfig({ env: { AVTECH_MIN_DURATION_MS: "30000" } })).toThrow(/minDurationMs/);
  });
});

describe("loadConfig: fleet settings", () => {
  it("default to the fleet's built-in values", () => {
    expect(loadConfig({ env: {} }).fleet).toEqual({
      heartbeatIntervalSeconds: 15,
      pairingTtlSeconds: 600,
      commandTtlSeconds: 3600,
      healthSampleSeconds: 60,
    });
  });

  it("come from the file, with environment variables over it", () => {
    const config = loadConfig({
      env: {
        AVTECH_CONFIG: "/etc/avtech.json",
        AVTECH_HEARTBEAT_INTERVAL_SECONDS: "30",
        AVTECH_COMMAND_TTL_SECONDS: "7200",
        AVTECH_HEALTH_SAMPLE_SECONDS: "15",
      },
      readFile: () => JSON.stringify({ fleet: { heartbeatIntervalSeconds: 20, pairingTtlSeconds: 120 } }),
    });
    expect(config.fleet).toEqual({
      heartbeatIntervalSeconds: 30,
      pairingTtlSeconds: 120,
      commandTtlSeconds: 7200,
      healthSampleSeconds: 15,
    });
    expect(Object.isFrozen(config.fleet)).toBe(true);
  });

  it("refuse bad values, naming the key, the range and why", () => {
    const attempt = () =>
      loadConfig({
        env: {
          AVTECH_HEARTBEAT_INTERVAL_SECONDS: "2",
          AVTECH_PAIRING_TTL_SECONDS: "ten minutes",
          AVTECH_COMMAND_TTL_SECONDS: String(8 * 24 * 3600),
          AVTECH_HEALTH_SAMPLE_SECONDS: "1",
        },
      });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/fleet\.heartbeatIntervalSeconds: must be 5\.\.300 seconds: players ignore/);
    expect(attempt).toThrow(/fleet\.pairingTtlSeconds: .*expected number/);
    expect(attempt).toThrow(
      /fleet\.commandTtlSeconds: must be 1\.\.604800 seconds: SendCommand accepts at most 7 days/,
    );
    expect(attempt).toThrow(/fleet\.healthSampleSeconds: must be 5\.\.3600 seconds: a sample per heartbeat at most/);
    expect(() => loadConfig({ env: { AVTECH_PAIRING_TTL_SECONDS: "90.5" } })).toThrow(
      /fleet\.pairingTtlSeconds: must be whole seconds/,
    );
  });

  it("refuse unknown keys in the file's fleet section", () => {
    expect(() =>
      loadConfig({
        env: { AVTECH_CONFIG: "/c.json" },
        readFile: () => JSON.stringify({ fleet: { heartbeatInterval: 30 } }),
      }),
    ).toThrow(/fleet.*heartbeatInterval/);
  });
});

describe("loadConfig: OS update settings", () => {
  it("leave bundle checks unconfigured by default, with a 1 GiB bundle limit", () => {
    const config = loadConfig({ env: {} });
    expect(config.update).toEqual({ raucPath: "/usr/bin/rauc" });
    expect(config.limits.maxBundleBytes).toBe(1024 * 1024 * 1024);
  });

  it("read the compatible, keyring, rauc and bundle limit from the environment over the file", () => {
    const config = loadConfig({
      env: {
        AVTECH_CONFIG: "/c.json",
        AVTECH_UPDATE_COMPATIBLE: "avtech-rpi4",
        AVTECH_UPDATE_KEYRING: "/etc/avtech/fleet-ca.pem",
        AVTECH_MAX_BUNDLE_BYTES: "2000000",
      },
      readFile: () => JSON.stringify({ update: { compatible: "from-file", raucPath: "/opt/rauc" } }),
    });
    expect(config.update).toEqual({
      compatible: "avtech-rpi4",
      keyringPath: "/etc/avtech/fleet-ca.pem",
      raucPath: "/opt/rauc",
    });
    expect(config.limits.maxBundleBytes).toBe(2_000_000);
  });

  it("refuse a misspelt update key and a bundle limit that is no number", () => {
    expect(() =>
      loadConfig({ env: { AVTECH_CONFIG: "/c.json" }, readFile: () => JSON.stringify({ update: { keyring: "/x" } }) }),
    ).toThrow(/update/);
    expect(() => loadConfig({ env: { AVTECH_MAX_BUNDLE_BYTES: "lots" } })).toThrow(/limits\.maxBundleBytes/);
  });
});

describe("loadConfig: report settings", () => {
  it("default to 7 days of raw play events, 13 months of rollups, 400-day reports and 1 s batches", () => {
    expect(loadConfig({ env: {} }).reports).toEqual({
      rawRetentionDays: 7,
      rollupRetentionMonths: 13,
      maxRangeDays: 400,
      ingestFlushMs: 1000,
    });
  });

  it("come from the file, with environment variables over it", () => {
    const config = loadConfig({
      env: {
        AVTECH_CONFIG: "/etc/avtech.json",
        AVTECH_PLAY_EVENT_RETENTION_DAYS: "14",
        AVTECH_REPORT_MAX_RANGE_DAYS: "100",
        AVTECH_PLAY_EVENT_FLUSH_MS: "250",
      },
      readFile: () => JSON.stringify({ reports: { rawRetentionDays: 3, rollupRetentionMonths: 25 } }),
    });
    expect(config.reports).toEqual({
      rawRetentionDays: 14,
      rollupRetentionMonths: 25,
      maxRangeDays: 100,
      ingestFlushMs: 250,
    });
  });

  it("refuse bad values and unknown keys, naming the key and the range", () => {
    const attempt = () =>
      loadConfig({
        env: { AVTECH_PLAY_EVENT_RETENTION_DAYS: "0", AVTECH_PLAY_ROLLUP_RETENTION_MONTHS: "1.5" },
      });
    expect(attempt).toThrow(/reports\.rawRetentionDays: must be 1\.\.90 days/);
    expect(attempt).toThrow(/reports\.rollupRetentionMonths: must be whole months/);
    expect(() =>
      loadConfig({ env: { AVTECH_CONFIG: "/c.json" }, readFile: () => JSON.stringify({ reports: { rawDays: 3 } }) }),
    ).toThrow(/reports: Unrecognized key: "rawDays"/);
  });
});

describe("loadConfig: alert settings", () => {
  it("default to 15 s evaluations, 60 s grouping, 10 notifications a minute, 8 attempts and no SMTP server", () => {
    expect(loadConfig({ env: {} }).alerts).toEqual({
      evaluateEverySeconds: 15,
      groupWindowSeconds: 60,
      groupMinAlerts: 5,
      maxNotificationsPerMinute: 10,
      maxAttempts: 8,
      retryBaseSeconds: 10,
      retryMaxSeconds: 3600,
      deliveryTimeoutSeconds: 10,
      smtp: { from: "AVTech alerts <alerts@localhost>" },
    });
  });

  it("take the SMTP server from the environment over the file", () => {
    const config = loadConfig({
      env: { AVTECH_CONFIG: "/c.json", AVTECH_SMTP_URL: "smtps://alerts:pw@mail.example.com:465" },
      readFile: () => JSON.stringify({ alerts: { smtp: { url: "smtp://old:25", from: "ops@example.com" } } }),
    });
    expect(config.alerts.smtp).toEqual({ url: "smtps://alerts:pw@mail.example.com:465", from: "ops@example.com" });
  });

  it("refuse a URL that is not SMTP and out-of-range numbers, naming the key", () => {
    const attempt = () =>
      loadConfig({ env: { AVTECH_SMTP_URL: "https://mail.example.com", AVTECH_ALERT_EVALUATE_SECONDS: "0" } });
    expect(attempt).toThrow(/alerts\.smtp\.url: must be an smtp:\/\/ or smtps:\/\/ URL/);
    expect(attempt).toThrow(/alerts\.evaluateEverySeconds: must be 1\.\.300 seconds/);
  });
});
