/**
 * The provisioning CLI for field installers and fleet managers (see provisioning/README.md):
 *   node provisioning/src/cli.ts <command> [options]
 */
import { createConnectTransport } from "@connectrpc/connect-node";
import { processRunner } from "./bootpart/index.ts";
import { runCli, UsageError, usage } from "./cli/run.ts";

try {
  await runCli(process.argv.slice(2), {
    out: (text) => process.stdout.write(text),
    env: process.env,
    runner: processRunner,
    transport: (baseUrl) => createConnectTransport({ baseUrl, httpVersion: "1.1" }),
  });
} catch (error) {
  if (error instanceof UsageError) {
    process.stderr.write(`${error.message}\n\n${usage}`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  }
}
