#!/usr/bin/env node
import { parseArgs } from "node:util";
import { AdminCommandError, createAdminCommands } from "./admin/index.ts";
import { openDatabase } from "./app.ts";
import { ConfigError, loadConfig } from "./platform/config/index.ts";
import type { RoleName } from "./platform/db/entities.ts";
import { createLogger } from "./platform/logger.ts";

const usage = `usage: control-plane admin <command> [options]

commands:
  create-tenant    --slug <slug> [--name <name>] [--storage-quota-bytes <n>] [--screen-quota <n>]
  create-user      --tenant <slug> --email <email> --role admin|editor|viewer [--name <display name>]
                   (password from AVTECH_PASSWORD, or --password)
  create-api-token --tenant <slug> --name <name> --role admin|editor|viewer

Uses the same configuration as the server (DATABASE_URL or the embedded PostgreSQL data folder).
Secrets are printed once and stored only as hashes.`;

/** Runs one admin command; returns the exit code. */
async function run(argv: string[]): Promise<number> {
  const [scope, command, ...rest] = argv;
  if (scope !== "admin" || !command) {
    process.stderr.write(`${usage}\n`);
    return 2;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      slug: { type: "string" },
      name: { type: "string" },
      tenant: { type: "string" },
      email: { type: "string" },
      role: { type: "string" },
      password: { type: "string" },
      "storage-quota-bytes": { type: "string" },
      "screen-quota": { type: "string" },
    },
    strict: true,
  });
  const required = (key: keyof typeof values): string => {
    const value = values[key];
    if (typeof value !== "string" || value === "") throw new AdminCommandError(`--${key} is required\n\n${usage}`);
    return value;
  };
  const config = loadConfig();
  const logger = createLogger({ logLevel: config.logLevel === "info" ? "warn" : config.logLevel });
  const database = await openDatabase(config, logger);
  try {
    const admin = createAdminCommands(database.orm, config.defaultTenantQuota);
    switch (command) {
      case "create-tenant": {
        const quota = values["storage-quota-bytes"];
        const screens = values["screen-quota"];
        const tenant = await admin.createTenant({
          slug: required("slug"),
          name: values.name,
          storageQuotaBytes: quota ? Number(quota) : undefined,
          screenQuota: screens ? Number(screens) : undefined,
        });
        process.stdout.write(`tenant ${tenant.slug} created (id ${tenant.id})\n`);
        return 0;
      }
      case "create-user": {
        const password = values.password ?? process.env.AVTECH_PASSWORD ?? "";
        if (!password) throw new AdminCommandError("give the password in AVTECH_PASSWORD (or --password)");
        const user = await admin.createUser({
          tenant: required("tenant"),
          email: required("email"),
          role: required("role") as RoleName,
          displayName: values.name,
          password,
        });
        process.stdout.write(`user ${user.email} created (id ${user.id})\n`);
        return 0;
      }
      case "create-api-token": {
        const token = await admin.createApiToken({
          tenant: required("tenant"),
          name: required("name"),
          role: required("role") as RoleName,
        });
        process.stdout.write(`API token created (id ${token.id}). Secret, shown only now:\n${token.secret}\n`);
        return 0;
      }
      default:
        throw new AdminCommandError(`unknown command "${command}"\n\n${usage}`);
    }
  } finally {
    await database.close();
  }
}

try {
  process.exitCode = await run(process.argv.slice(2));
} catch (error) {
  if (
    error instanceof AdminCommandError ||
    error instanceof ConfigError ||
    (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")
  ) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exitCode = 2;
  } else {
    throw error;
  }
}
