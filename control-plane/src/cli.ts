#!/usr/bin/env node
import { adminExitCodes, adminUsage, runAdminCli } from "./admin/index.ts";

/**
 * `control-plane admin <command> …`: the operator's CLI (commands and exit codes in
 * src/admin/cli.ts and control-plane/README.md). It uses the server's configuration.
 */
const [scope, ...rest] = process.argv.slice(2);
if (scope !== "admin") {
  process.stderr.write(adminUsage());
  process.exitCode = adminExitCodes.usage;
} else {
  process.exitCode = await runAdminCli(rest, {
    env: process.env,
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
  });
}
