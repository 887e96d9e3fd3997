import { hostname, userInfo } from "node:os";
import { type ParseArgsOptionsConfig, parseArgs } from "node:util";
import { CommandKind, CommandStatus } from "@avtech/proto/gen/avtech/device/v1/command_pb.js";
import pg from "pg";
import { type Logger, pino } from "pino";
import { type OpenDatabase, openDatabase } from "../app.ts";
import { createFsBlobStore } from "../core/content/index.ts";
import { createDbAssetCatalog, createDbPublishSources } from "../core/schedule/index.ts";
import type { CommandRecord } from "../fleet/fleet/ports.ts";
import { PgWakeups } from "../fleet/notify/index.ts";
import { createPgFleetStores } from "../fleet/pg/index.ts";
import { createAuditLog } from "../platform/audit/index.ts";
import { systemClock } from "../platform/clock.ts";
import { type Config, ConfigError, loadConfig } from "../platform/config/index.ts";
import type { RoleName } from "../platform/db/entities.ts";
import { type BlobReport, checkBlobs } from "./blobs.ts";
import { AdminCommandError, createAdminCommands } from "./commands.ts";
import { formatAge, parseDuration } from "./duration.ts";
import {
  createFleetAdmin,
  type FleetAdmin,
  type QueuedCommand,
  type ScreenCommandKind,
  type ScreenDetail,
  type ScreenRow,
  type ScreenStatusFilter,
  screenCommandKinds,
  screenStatusFilters,
} from "./fleet.ts";

/** Exit codes of `control-plane admin …`. */
export const adminExitCodes = {
  ok: 0,
  /** A check found a problem (blobs check), or a command sent to a screen failed, expired or was not answered in time. */
  problem: 1,
  /** Bad usage or input: unknown command or flag, bad value, unknown tenant or screen. Nothing was changed. */
  usage: 2,
} as const;

/** Where a CLI run reads its settings and writes its output; `main` passes the process's own. */
export interface AdminCliContext {
  env: Record<string, string | undefined>;
  stdout(text: string): void;
  stderr(text: string): void;
  /** Connects to the configured database; default {@link openDatabase}. */
  openDatabase?: (config: Config, logger: Logger) => Promise<OpenDatabase>;
}

type Values = Record<string, string | boolean | undefined>;

interface Run {
  config: Config;
  database: OpenDatabase;
  values: Values;
  positionals: string[];
  context: AdminCliContext;
  logger: Logger;
  /** The fleet side (stores, NOTIFY), opened on first use. */
  fleet(): Promise<FleetAdmin>;
}

/** One command of the CLI: its words, options and positionals, and what it does. */
interface CommandSpec {
  words: readonly string[];
  synopsis: string;
  summary: string;
  options: ParseArgsOptionsConfig;
  positionals: readonly string[];
  /** Checks the input before the database is opened (bad input changes nothing and costs no connection). */
  check?(values: Values, positionals: string[]): void;
  run(run: Run): Promise<number>;
}

const tenantOption = { tenant: { type: "string" } } as const;
const jsonOption = { json: { type: "boolean" } } as const;
const waitOption = { wait: { type: "string" } } as const;

/** What each `screen <kind>` command asks of the player (player/README.md, "Commands"). */
const screenCommandSummaries: Record<ScreenCommandKind, string> = {
  resync: "a RESYNC (the player re-verifies its cached clips and applies its desired state now)",
  "clear-cache": "a CLEAR_CACHE (the player deletes every cached clip its playing and target states do not need)",
  "restart-player": "a RESTART_PLAYER (the player exits and systemd starts it again, mpv included)",
  reboot: "a REBOOT of the screen",
  identify: "an IDENTIFY (the screen shows its name for 10 s over what it plays)",
};

/** The CLI's commands, in the order `--help` lists them. */
const commands: readonly CommandSpec[] = [
  {
    words: ["tenants"],
    synopsis: "[--json]",
    summary: "tenants with screen count and quota, storage used and quota",
    options: { ...jsonOption },
    positionals: [],
    async run(r) {
      const rows = await (await r.fleet()).tenants();
      if (r.values.json) return printJson(r, rows);
      r.context.stdout(
        table(
          ["SLUG", "NAME", "SCREENS", "STORAGE"],
          rows.map((t) => [
            t.slug,
            t.name,
            `${t.screens} of ${t.screenQuota}`,
            `${formatBytes(t.storageUsedBytes)} of ${formatBytes(t.storageQuotaBytes)}`,
          ]),
        ),
      );
      return adminExitCodes.ok;
    },
  },
  {
    words: ["screens"],
    synopsis: `--tenant <slug> [--status ${screenStatusFilters.join("|")}] [--since <duration>] [--disk-used-above <percent>] [--json]`,
    summary:
      "the tenant's screens with connection, last seen, sync and disk; --since: in that status for at least this long (10m, 2h, 1d)",
    options: {
      ...tenantOption,
      status: { type: "string" },
      since: { type: "string" },
      "disk-used-above": { type: "string" },
      ...jsonOption,
    },
    positionals: [],
    check(values) {
      required(values, "tenant");
      if (values.status !== undefined) screenStatus(values.status as string);
      if (values.since !== undefined) parseDuration(values.since as string, "--since");
      if (values["disk-used-above"] !== undefined) percent(values["disk-used-above"] as string, "--disk-used-above");
    },
    async run(r) {
      const rows = await (await r.fleet()).screens({
        tenant: required(r.values, "tenant"),
        status: r.values.status === undefined ? undefined : screenStatus(r.values.status as string),
        sinceMs: r.values.since === undefined ? undefined : parseDuration(r.values.since as string, "--since"),
        diskUsedAbovePercent:
          r.values["disk-used-above"] === undefined
            ? undefined
            : percent(r.values["disk-used-above"] as string, "--disk-used-above"),
      });
      if (r.values.json) return printJson(r, rows);
      const now = Date.now();
      r.context.stdout(
        table(
          ["ID", "NAME", "CONNECTION", "LAST SEEN", "SYNC", "APPLIED/DESIRED", "PLAYBACK", "DISK", "PLAYER"],
          rows.map((s) => [
            s.id,
            s.name,
            s.connection,
            s.lastSeenAt ? `${s.lastSeenAt.toISOString()} (${formatAge(now - s.lastSeenAt.getTime())} ago)` : "never",
            s.sync,
            `${s.appliedVersion}/${s.desiredVersion}`,
            s.playback || "-",
            diskOf(s),
            s.playerVersion || "-",
          ]),
        ),
      );
      r.context.stdout(`${rows.length} screen${rows.length === 1 ? "" : "s"}\n`);
      return adminExitCodes.ok;
    },
  },
  {
    words: ["screen", "show"],
    synopsis: "--tenant <slug> <screen-id> [--json]",
    summary: "one screen: status, what it plays against what its schedule says now, latest commands",
    options: { ...tenantOption, ...jsonOption },
    positionals: ["screen-id"],
    check: (values) => void required(values, "tenant"),
    async run(r) {
      const detail = await (await r.fleet()).screen({
        tenant: required(r.values, "tenant"),
        screenId: r.positionals[0] as string,
      });
      if (r.values.json) return printJson(r, detail);
      r.context.stdout(formatScreen(detail));
      return adminExitCodes.ok;
    },
  },
  ...(Object.keys(screenCommandKinds) as ScreenCommandKind[]).map(
    (kind): CommandSpec => ({
      words: ["screen", kind],
      synopsis: "--tenant <slug> <screen-id> [--wait <duration>]",
      summary: `queue ${screenCommandSummaries[kind]}; --wait: until the screen answers`,
      options: { ...tenantOption, ...waitOption },
      positionals: ["screen-id"],
      check(values) {
        required(values, "tenant");
        if (values.wait !== undefined) parseDuration(values.wait as string, "--wait");
      },
      async run(r) {
        const fleet = await r.fleet();
        const queued = await fleet.screenCommand({
          tenant: required(r.values, "tenant"),
          screenId: r.positionals[0] as string,
          kind,
        });
        r.context.stdout(
          `${CommandKind[queued.command.kind]} ${queued.command.id} queued for ${queued.screenId} "${queued.screenName}"\n`,
        );
        return waitFor(r, fleet, [queued]);
      },
    }),
  ),
  {
    words: ["publish", "status"],
    synopsis: "--tenant <slug> [<screen-id>] [--json]",
    summary: "per screen: desired and applied version, sync status and the error a failed screen reported",
    options: { ...tenantOption, ...jsonOption },
    positionals: ["screen-id?"],
    check: (values) => void required(values, "tenant"),
    async run(r) {
      const fleet = await r.fleet();
      const tenant = required(r.values, "tenant");
      const screenId = r.positionals[0];
      if (screenId !== undefined) {
        const detail = await fleet.screen({ tenant, screenId });
        if (r.values.json) return printJson(r, detail);
        r.context.stdout(formatPublishDetail(detail));
        return adminExitCodes.ok;
      }
      const report = await fleet.publishStatus({ tenant });
      if (r.values.json) return printJson(r, report);
      const now = Date.now();
      r.context.stdout(
        table(
          ["ID", "NAME", "SYNC", "DESIRED", "APPLIED", "PUBLISHED", "CONNECTION", "ERROR"],
          report.screens.map((s) => [
            s.id,
            s.name,
            s.sync,
            String(s.desiredVersion),
            String(s.appliedVersion),
            s.desiredAt ? `${formatAge(now - s.desiredAt.getTime())} ago` : "-",
            s.connection,
            s.syncError || "-",
          ]),
        ),
      );
      const c = report.counts;
      r.context.stdout(
        `${report.screens.length} screens: ${c.synced} synced, ${c.pending} pending, ${c.failed} failed, ${c["never-published"]} never published${c.ahead ? `, ${c.ahead} AHEAD of this database (restored from an older backup? see ansible/README.md)` : ""}\n`,
      );
      return adminExitCodes.ok;
    },
  },
  {
    words: ["publish", "retry"],
    synopsis: "--tenant <slug> --failed [--wait <duration>]",
    summary: "queue a RESYNC for every screen whose sync failed (they retry their desired state now)",
    options: { ...tenantOption, failed: { type: "boolean" }, ...waitOption },
    positionals: [],
    check(values) {
      required(values, "tenant");
      if (!values.failed) {
        throw new AdminCommandError("publish retry needs --failed (the screens it retries: those whose sync failed)");
      }
      if (values.wait !== undefined) parseDuration(values.wait as string, "--wait");
    },
    async run(r) {
      const fleet = await r.fleet();
      const report = await fleet.retryFailed({ tenant: required(r.values, "tenant") });
      for (const q of report.queued) {
        r.context.stdout(`RESYNC ${q.command.id} queued for ${q.screenId} "${q.screenName}"\n`);
      }
      for (const s of report.needNewVersion) {
        r.context.stdout(
          `not retried: ${s.id} "${s.name}" rejected version ${s.desiredVersion} (${s.syncError}); fix the content and publish again\n`,
        );
      }
      if (report.queued.length === 0 && report.needNewVersion.length === 0) {
        r.context.stdout("no screen of this tenant has a failed sync\n");
        return adminExitCodes.ok;
      }
      r.context.stdout(`${report.queued.length} screen(s) told to retry\n`);
      return waitFor(r, fleet, report.queued);
    },
  },
  {
    words: ["blobs", "check"],
    synopsis: "[--verify] [--json]",
    summary:
      "every clip, thumbnail and OS update bundle a row names is in the blob store with its size (--verify: and its sha256); counts files no row names",
    options: { verify: { type: "boolean" }, ...jsonOption },
    positionals: [],
    async run(r) {
      // It walks blobDir for files no row names, which an S3 bucket has none of: better no report than a wrong one.
      if (r.config.blobStore.kind !== "file") {
        throw new AdminCommandError(
          `blobs check reads the file store only; this control plane keeps blobs in S3 (blobStore.kind "${r.config.blobStore.kind}")`,
        );
      }
      const report = await checkBlobs({
        orm: r.database.orm,
        blobs: createFsBlobStore(r.config.blobDir),
        blobDir: r.config.blobDir,
        verify: r.values.verify === true,
      });
      if (r.values.json) printJson(r, report);
      else r.context.stdout(formatBlobReport(report, r.config.blobDir));
      return report.problems.length > 0 ? adminExitCodes.problem : adminExitCodes.ok;
    },
  },
  {
    words: ["create-tenant"],
    synopsis: "--slug <slug> [--name <name>] [--storage-quota-bytes <n>] [--screen-quota <n>]",
    summary: "create a tenant",
    options: {
      slug: { type: "string" },
      name: { type: "string" },
      "storage-quota-bytes": { type: "string" },
      "screen-quota": { type: "string" },
    },
    positionals: [],
    check(values) {
      required(values, "slug");
      for (const key of ["storage-quota-bytes", "screen-quota"]) {
        if (values[key] !== undefined) positiveInteger(values[key] as string, `--${key}`);
      }
    },
    async run(r) {
      const quota = r.values["storage-quota-bytes"] as string | undefined;
      const screens = r.values["screen-quota"] as string | undefined;
      const tenant = await createAdminCommands(r.database.orm, r.config.defaultTenantQuota).createTenant({
        slug: required(r.values, "slug"),
        name: r.values.name as string | undefined,
        storageQuotaBytes: quota === undefined ? undefined : positiveInteger(quota, "--storage-quota-bytes"),
        screenQuota: screens === undefined ? undefined : positiveInteger(screens, "--screen-quota"),
      });
      r.context.stdout(`tenant ${tenant.slug} created (id ${tenant.id})\n`);
      return adminExitCodes.ok;
    },
  },
  {
    words: ["set-tenant-quota"],
    synopsis: "--tenant <slug> [--storage-quota-bytes <n>] [--screen-quota <n>]",
    summary: "change a tenant's storage quota (enforced at upload) and screen quota (stored, not enforced yet)",
    options: { ...tenantOption, "storage-quota-bytes": { type: "string" }, "screen-quota": { type: "string" } },
    positionals: [],
    check(values) {
      required(values, "tenant");
      for (const key of ["storage-quota-bytes", "screen-quota"]) {
        if (values[key] !== undefined) positiveInteger(values[key] as string, `--${key}`);
      }
    },
    async run(r) {
      const quota = r.values["storage-quota-bytes"] as string | undefined;
      const screens = r.values["screen-quota"] as string | undefined;
      const stored = await createAdminCommands(r.database.orm, r.config.defaultTenantQuota).setTenantQuota({
        tenant: required(r.values, "tenant"),
        storageQuotaBytes: quota === undefined ? undefined : positiveInteger(quota, "--storage-quota-bytes"),
        screenQuota: screens === undefined ? undefined : positiveInteger(screens, "--screen-quota"),
      });
      r.context.stdout(
        `tenant ${required(r.values, "tenant")}: storage quota ${formatBytes(stored.storageQuotaBytes)} (${stored.storageQuotaBytes} bytes), screen quota ${stored.screenQuota}\n`,
      );
      return adminExitCodes.ok;
    },
  },
  {
    words: ["create-user"],
    synopsis:
      "--tenant <slug> --email <email> --role admin|editor|viewer [--name <display name>] (password from AVTECH_PASSWORD, or --password)",
    summary: "create a user who signs in to the console",
    options: {
      ...tenantOption,
      email: { type: "string" },
      role: { type: "string" },
      name: { type: "string" },
      password: { type: "string" },
    },
    positionals: [],
    check(values) {
      for (const key of ["tenant", "email", "role"]) required(values, key);
    },
    async run(r) {
      const password = (r.values.password as string | undefined) ?? r.context.env.AVTECH_PASSWORD ?? "";
      if (!password) throw new AdminCommandError("give the password in AVTECH_PASSWORD (or --password)");
      const user = await createAdminCommands(r.database.orm, r.config.defaultTenantQuota).createUser({
        tenant: required(r.values, "tenant"),
        email: required(r.values, "email"),
        role: required(r.values, "role") as RoleName,
        displayName: r.values.name as string | undefined,
        password,
      });
      r.context.stdout(`user ${user.email} created (id ${user.id})\n`);
      return adminExitCodes.ok;
    },
  },
  {
    words: ["create-api-token"],
    synopsis: "--tenant <slug> --name <name> --role admin|editor|viewer",
    summary: "create an API token for automation; prints the secret once",
    options: { ...tenantOption, name: { type: "string" }, role: { type: "string" } },
    positionals: [],
    check(values) {
      for (const key of ["tenant", "name", "role"]) required(values, key);
    },
    async run(r) {
      const token = await createAdminCommands(r.database.orm, r.config.defaultTenantQuota).createApiToken({
        tenant: required(r.values, "tenant"),
        name: required(r.values, "name"),
        role: required(r.values, "role") as RoleName,
      });
      r.context.stdout(`API token created (id ${token.id}). Secret, shown only now:\n${token.secret}\n`);
      return adminExitCodes.ok;
    },
  },
];

/** The usage text: every command with its options. */
export function adminUsage(): string {
  const width = Math.max(...commands.map((c) => c.words.join(" ").length));
  const lines = commands.map(
    (c) => `  ${c.words.join(" ").padEnd(width)}  ${c.synopsis}\n  ${"".padEnd(width)}  ${c.summary}`,
  );
  return `usage: control-plane admin <command> [options]

commands:
${lines.join("\n")}

Uses the same configuration as the server (DATABASE_URL, AVTECH_BLOB_DIR, or the embedded PostgreSQL data
folder). Secrets are printed once and stored only as hashes. Exit codes: 0 ok, 1 a check found a problem or a
command sent to a screen failed or was not answered within --wait, 2 bad usage or input (nothing changed).
`;
}

/** The words of every command (for tests and documentation). */
export const adminCommandNames: readonly string[] = commands.map((c) => c.words.join(" "));

/**
 * Runs `control-plane admin <argv…>` (argv without "admin") and returns the exit code. Usage and
 * input errors (unknown command or flag, bad value, unknown tenant or screen) print one line
 * without a stack and return 2 before anything is changed; input that needs no database is
 * checked before connecting.
 */
export async function runAdminCli(argv: readonly string[], context: AdminCliContext): Promise<number> {
  try {
    return await runCommand(argv, context);
  } catch (error) {
    if (isUsageError(error)) {
      context.stderr(`${(error as Error).message}\n`);
      return adminExitCodes.usage;
    }
    throw error;
  }
}

async function runCommand(argv: readonly string[], context: AdminCliContext): Promise<number> {
  if (argv.length === 0 || argv[0] === "help" || argv[0] === "--help" || argv[0] === "-h") {
    (argv.length === 0 ? context.stderr : context.stdout)(adminUsage());
    return argv.length === 0 ? adminExitCodes.usage : adminExitCodes.ok;
  }
  const spec = findCommand(argv);
  if (!spec) {
    const words = argv.filter((word) => !word.startsWith("-")).slice(0, 2);
    throw new AdminCommandError(`unknown command "${words.join(" ")}"\n\n${adminUsage()}`);
  }
  const rest = argv.slice(spec.words.length);
  if (rest.includes("--help") || rest.includes("-h")) {
    context.stdout(`usage: control-plane admin ${spec.words.join(" ")} ${spec.synopsis}\n  ${spec.summary}\n`);
    return adminExitCodes.ok;
  }
  const usageLine = `usage: control-plane admin ${spec.words.join(" ")} ${spec.synopsis}`;
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...rest],
      options: spec.options,
      allowPositionals: spec.positionals.length > 0,
      strict: true,
    });
  } catch (error) {
    if (!isUsageError(error)) throw error;
    throw new AdminCommandError(`${(error as Error).message}\n${usageLine}`);
  }
  // No option is `multiple`, so no value is an array.
  const values = parsed.values as Values;
  const positionals = parsed.positionals;
  const needed = spec.positionals.filter((name) => !name.endsWith("?"));
  if (positionals.length < needed.length || positionals.length > spec.positionals.length) {
    const names = spec.positionals.map((name) => (name.endsWith("?") ? `[<${name.slice(0, -1)}>]` : `<${name}>`));
    throw new AdminCommandError(
      `${spec.words.join(" ")} takes ${names.length === 0 ? "no arguments" : names.join(" ")}, got ${positionals.length === 0 ? "none" : positionals.map((p) => `"${p}"`).join(" ")}\n${usageLine}`,
    );
  }
  spec.check?.(values, positionals);

  const config = loadConfig({ env: context.env });
  const logger = pino(
    { name: "avtech-admin", level: config.logLevel === "info" ? "warn" : config.logLevel },
    pino.destination(2),
  );
  const database = await (context.openDatabase ?? openDatabase)(config, logger);
  const closers: Array<() => Promise<void>> = [];
  let fleet: FleetAdmin | undefined;
  try {
    return await spec.run({
      config,
      database,
      values,
      positionals,
      context,
      logger,
      async fleet() {
        fleet ??= openFleet(config, database, logger, context.env, closers);
        return fleet;
      },
    });
  } finally {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    await database.close();
  }
}

function findCommand(argv: readonly string[]): CommandSpec | undefined {
  const matches = commands.filter((c) => c.words.every((word, i) => argv[i] === word));
  return matches.sort((a, b) => b.words.length - a.words.length)[0];
}

function openFleet(
  config: Config,
  database: OpenDatabase,
  logger: Logger,
  env: AdminCliContext["env"],
  closers: Array<() => Promise<void>>,
): FleetAdmin {
  const { orm } = database;
  const connectionString = orm.config.get("clientUrl");
  if (!connectionString) throw new Error("the admin CLI needs the database URL the ORM connected with");
  const pool = new pg.Pool({ connectionString, max: 2 });
  closers.push(() => pool.end());
  const stores = createPgFleetStores({
    pool,
    logger,
    core: { publishSources: createDbPublishSources(orm), assets: createDbAssetCatalog(orm) },
  });
  // The CLI holds no stream: it only NOTIFYs, and the server process holding the screen's stream delivers.
  const wakeups = new PgWakeups({ connectionString, logger, onWake: () => undefined, onResync: () => undefined });
  closers.push(() => wakeups.stop());
  const operator = env.SUDO_USER || safeUserName();
  return createFleetAdmin({
    orm,
    stores,
    wake: (ids) => wakeups.notify(ids),
    audit: createAuditLog({ orm, clock: systemClock, logger }),
    clock: systemClock,
    actor: { id: `cli:${operator}`.slice(0, 64), name: `admin CLI (${operator}@${hostname()})`.slice(0, 320) },
    commandTtlSeconds: config.fleet.commandTtlSeconds,
  });
}

function safeUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return "unknown";
  }
}

const finalStatuses = new Set([CommandStatus.SUCCEEDED, CommandStatus.FAILED, CommandStatus.EXPIRED]);

/** With --wait: follows the queued commands until each has an outcome or the time is up. */
async function waitFor(r: Run, fleet: FleetAdmin, queued: readonly QueuedCommand[]): Promise<number> {
  if (r.values.wait === undefined || queued.length === 0) return adminExitCodes.ok;
  const deadline = Date.now() + parseDuration(r.values.wait as string, "--wait");
  const outcome = new Map<string, CommandRecord>();
  for (;;) {
    for (const q of queued) {
      if (outcome.has(q.command.id)) continue;
      const now = await fleet.commandStatus({ tenantId: q.command.tenantId, commandId: q.command.id });
      if (now && finalStatuses.has(now.status)) outcome.set(q.command.id, now);
    }
    if (outcome.size === queued.length || Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  let ok = true;
  for (const q of queued) {
    const done = outcome.get(q.command.id);
    if (done) {
      ok &&= done.status === CommandStatus.SUCCEEDED;
      r.context.stdout(
        `${q.screenId} "${q.screenName}": ${CommandStatus[done.status]}${done.resultMessage ? ` (${done.resultMessage})` : ""}\n`,
      );
    } else {
      ok = false;
      r.context.stdout(
        `${q.screenId} "${q.screenName}": no answer within ${r.values.wait}; the screen gets the command when it connects, until ${q.command.expiresAt.toISOString()}\n`,
      );
    }
  }
  return ok ? adminExitCodes.ok : adminExitCodes.problem;
}

function isUsageError(error: unknown): boolean {
  return (
    error instanceof AdminCommandError ||
    error instanceof ConfigError ||
    (error as { code?: string } | undefined)?.code?.startsWith("ERR_PARSE_ARGS") === true
  );
}

function required(values: Values, key: string): string {
  const value = values[key];
  if (typeof value !== "string" || value === "") throw new AdminCommandError(`--${key} is required`);
  return value;
}

function screenStatus(text: string): ScreenStatusFilter {
  if (!(screenStatusFilters as readonly string[]).includes(text)) {
    throw new AdminCommandError(`--status must be one of ${screenStatusFilters.join(", ")}, got "${text}"`);
  }
  return text as ScreenStatusFilter;
}

function percent(text: string, flag: string): number {
  const value = Number(text.replace(/%$/, ""));
  if (!/^\d+(\.\d+)?%?$/.test(text) || value > 100) {
    throw new AdminCommandError(`${flag} must be a percentage 0..100, got "${text}"`);
  }
  return value;
}

function positiveInteger(text: string, flag: string): number {
  if (!/^[1-9]\d*$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new AdminCommandError(`${flag} must be a whole number above 0, got "${text}"`);
  }
  return Number(text);
}

function printJson(r: Run, value: unknown): number {
  r.context.stdout(
    `${JSON.stringify(value, (_key, v) => (typeof v === "bigint" ? v.toString() : v === undefined ? null : v), 2)}\n`,
  );
  return adminExitCodes.ok;
}

/** Left-aligned columns separated by two spaces; "-" for empty cells. */
function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => (row[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return `${[line(headers), ...rows.map(line)].join("\n")}\n`;
}

function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

function diskOf(s: ScreenRow): string {
  if (!s.diskTotalBytes || s.diskUsedBytes === undefined) return "-";
  return `${Math.round((s.diskUsedBytes / s.diskTotalBytes) * 100)}% of ${formatBytes(s.diskTotalBytes)}`;
}

function formatScreen(d: ScreenDetail): string {
  const s = d.screen;
  const now = Date.now();
  const lines = [
    `screen      ${s.id} "${s.name}" (hardware ${s.hardwareId}, player ${s.playerVersion || "?"}, ${s.ipAddress || "no address"})`,
    `connection  ${s.connection}, last seen ${s.lastSeenAt ? `${s.lastSeenAt.toISOString()} (${formatAge(now - s.lastSeenAt.getTime())} ago)` : "never"}`,
    `sync        ${s.sync}: applied ${s.appliedVersion}, desired ${s.desiredVersion}${s.syncError ? `, error ${s.syncError}` : ""}`,
    `disk        ${diskOf(s)}`,
    `zone        ${d.timezone}; group ${d.groupId || "-"}; tags ${d.tags.join(", ") || "-"}`,
    `playing     ${
      d.playing
        ? `${d.playing.state}${d.playing.playlistId ? ` playlist ${d.playing.playlistId}` : ""}${d.playing.ruleId ? ` (rule ${d.playing.ruleId})` : d.playing.playlistId ? " (default playlist)" : ""}${d.playing.videoId ? ` video ${d.playing.videoId}` : ""}`
        : "unknown (no heartbeat yet)"
    }`,
  ];
  if (d.desired) {
    const expected = d.desired.now;
    lines.push(
      `schedule    version ${d.desired.version} says now: ${
        expected.playlistId
          ? `playlist ${expected.playlistId} "${expected.playlistName ?? "?"}" ${expected.ruleId ? `(rule ${expected.ruleId})` : "(default playlist)"}`
          : "standby (nothing scheduled)"
      }, until ${d.desired.nextChangeAt.toISOString()}`,
    );
    if (d.playing && d.playing.playlistId !== (expected.playlistId ?? "") && s.appliedVersion === d.desired.version) {
      lines.push("            ! the screen plays something else than its applied schedule says");
    }
  } else {
    lines.push("schedule    never published to this screen");
  }
  lines.push("commands    (latest first)");
  for (const c of d.commands) {
    lines.push(
      `            ${c.issuedAt.toISOString()} ${commandKindName(c)} ${CommandStatus[c.status]}${c.resultMessage ? `: ${c.resultMessage}` : ""} (by ${c.issuedBy})`,
    );
  }
  if (d.commands.length === 0) lines.push("            none");
  return `${lines.join("\n")}\n`;
}

function formatPublishDetail(d: ScreenDetail): string {
  const s = d.screen;
  const lines = [
    `screen     ${s.id} "${s.name}" (${s.connection})`,
    `sync       ${s.sync}`,
    `desired    version ${s.desiredVersion}${s.desiredAt ? ` published ${s.desiredAt.toISOString()}` : ""}`,
    `applied    version ${s.appliedVersion}`,
  ];
  if (s.syncError) lines.push(`error      ${s.syncError}`);
  if (d.desired) {
    lines.push(
      `document   version ${d.desired.version}, content ${d.desired.contentHash.slice(0, 16)}…, ${d.desired.assets} assets, playlists ${d.desired.playlists.map((p) => `"${p.name}" (${p.items})`).join(", ") || "none"}`,
    );
  }
  return `${lines.join("\n")}\n`;
}

function commandKindName(c: CommandRecord): string {
  return CommandKind[c.kind] ?? `kind ${c.kind}`;
}

function formatBlobReport(report: BlobReport, blobDir: string): string {
  const lines = [
    `blob store ${blobDir}`,
    `referenced ${report.referenced} blobs (${formatBytes(report.referencedBytes)})${report.verified ? ", every one hashed" : "; sizes checked (add --verify to hash them)"}`,
    `unreferenced ${report.unreferenced} files (${formatBytes(report.unreferencedBytes)}) no row names: harmless`,
  ];
  for (const p of report.problems) {
    lines.push(
      `PROBLEM ${p.problem} ${p.role} ${p.sha256} (${p.role === "bundle" ? "release" : "video"} ${p.rowId}): ${p.detail}`,
    );
  }
  lines.push(report.problems.length === 0 ? "ok" : `${report.problems.length} problem(s)`);
  return `${lines.join("\n")}\n`;
}
