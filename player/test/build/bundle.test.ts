import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { isBuiltin } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BundleResult, bundlePlayer, deviceNodeFlags, optionalExternals } from "../../build/index.ts";

const run = promisify(execFile);

let dir: string;
let bundle: BundleResult;
beforeAll(async () => {
  // Built outside the repository: no node_modules folder above it, so a missed dependency fails here.
  dir = await mkdtemp(join(tmpdir(), "avtech-bundle-"));
  bundle = await bundlePlayer({ outfile: join(dir, "device", "avtech-player.mjs") });
  console.info(
    `bundle ${(bundle.bytes / 2 ** 20).toFixed(2)} MiB, map ${(bundle.mapBytes / 2 ** 20).toFixed(2)} MiB, ` +
      `${bundle.packages.length} packages`,
  );
}, 30_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs the bundle as a device would: no NODE_PATH, no node_modules, its own TMPDIR. */
function nodeEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, TMPDIR: join(dir, "tmp"), LOG_LEVEL: "info" };
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function waitForLine(child: ChildProcess, match: (line: string) => boolean, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let pending = "";
    let seen = "";
    const timer = setTimeout(
      () => reject(new Error(`no matching line within ${timeoutMs} ms; got:\n${seen}`)),
      timeoutMs,
    );
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (chunk: string) => {
      seen += chunk;
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      const hit = lines.find(match);
      if (hit !== undefined) {
        clearTimeout(timer);
        resolve(hit);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`player exited with ${code} before the line; stdout:\n${seen}`));
    });
  });
}

describe("the device bundle (player/build)", () => {
  it("is one ES module that imports only Node builtins at run time", () => {
    const unexpected = bundle.externals.filter((s) => !isBuiltin(s) && !optionalExternals.includes(s));
    expect(unexpected).toEqual([]);
    expect(bundle.packages).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^@bufbuild\/protobuf@/),
        expect.stringMatching(/^@connectrpc\/connect-node@/),
        expect.stringMatching(/^pino@/),
        expect.stringMatching(/^systeminformation@/),
      ]),
    );
    // A budget, so an accidentally bundled heavy dependency shows up here (2.0 MiB when written).
    expect(bundle.bytes).toBeLessThan(3 * 2 ** 20);
  });

  it("ships the license notices of every bundled package", async () => {
    const notices = await readFile(bundle.licensesFile, "utf8");
    for (const pkg of bundle.packages) expect(notices).toContain(pkg);
    expect(notices).toMatch(/Permission is hereby granted/);
  });

  it("prints its usage with no node_modules anywhere above it", async () => {
    const { stdout } = await run(process.execPath, [...deviceNodeFlags, bundle.outfile, "--help"], {
      cwd: dir,
      env: nodeEnv(),
    });
    expect(stdout).toMatch(/^usage: avtech-player <command>/);
    expect(stdout).toContain("doctor");
  });

  it("reports a config mistake with exit code 2 and no stack (smol-toml + zod bundled)", async () => {
    const config = join(dir, "bad.toml");
    await writeFile(config, 'control_plane_url = "http://localhost"\npairing = true\nlog_levle = "info"\n');
    const failure = await run(process.execPath, [bundle.outfile, "status", "--config", config], {
      cwd: dir,
      env: nodeEnv(),
    }).catch((error: unknown) => error as { code: number; stderr: string });
    expect(failure).toMatchObject({ code: 2 });
    expect((failure as { stderr: string }).stderr).toMatch(/^avtech-player: [\s\S]*unknown key "log_levle"/);
    expect((failure as { stderr: string }).stderr).not.toMatch(/\n\s+at /);
  });

  it("runs the player offline: mpv shows the connecting slate, logs are JSON, status works, SIGTERM stops it", async () => {
    const home = join(dir, "run");
    await mkdir(join(dir, "tmp"), { recursive: true });
    const config = join(home, "avtech.toml");
    await mkdir(home, { recursive: true });
    await writeFile(
      config,
      [
        `control_plane_url = "http://127.0.0.1:${await closedPort()}"`,
        `enrollment_key = "ek-test"`,
        `data_dir = "${join(home, "data")}"`,
        "[mpv]",
        `vo = "null"`,
        `extra_args = ["--ao=null"]`,
        "",
      ].join("\n"),
    );
    // With the device's Node flags: --lite-mode has no WebAssembly, so this also catches a dependency that needs it.
    const child = spawn(process.execPath, [...deviceNodeFlags, bundle.outfile, "run", "--config", config], {
      cwd: dir,
      env: nodeEnv(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      const started = await waitForLine(child, (line) => line.includes('"player started"'), 15_000);
      expect(JSON.parse(started)).toMatchObject({ level: 30, msg: "player started" });

      const { stdout } = await run(
        process.execPath,
        [...deviceNodeFlags, bundle.outfile, "status", "--config", config],
        {
          cwd: dir,
          env: nodeEnv(),
        },
      );
      // The connecting slate is on screen and mpv answers (not RECOVERING, not UNHEALTHY).
      expect(stdout).toMatch(/^playback {3}STANDBY$/m);
      expect(stdout).toMatch(/^link {7}\w+/m);

      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  }, 30_000);
});
