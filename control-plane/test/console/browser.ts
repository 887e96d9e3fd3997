import { spawn } from "node:child_process";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium } from "playwright-core";

/** The console's folder and its build output. */
export const consoleDir = join(import.meta.dirname, "..", "..", "console");
/** Where the built console lands. */
export const distDir = join(consoleDir, "dist");
/** Where browser tests save screenshots (git-ignored). */
export const artifactsDir = join(import.meta.dirname, "..", "..", "..", "test-artifacts", "console");

/**
 * Builds the console with Vite when dist is missing or older than any source file, so repeated
 * test runs cost nothing. Vite runs as a child process to keep it out of the test worker.
 */
export async function ensureConsoleBuilt(): Promise<void> {
  const built = await mtimeOf(join(distDir, "index.html"));
  const sources = await newestMtime([
    join(consoleDir, "src"),
    join(consoleDir, "index.html"),
    join(consoleDir, "vite.config.ts"),
  ]);
  if (built !== undefined && built >= sources) return;
  const vite = join(consoleDir, "..", "..", "node_modules", "vite", "bin", "vite.js");
  await new Promise<void>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [vite, "build", "--config", join(consoleDir, "vite.config.ts"), "--logLevel", "warn"],
      {
        stdio: ["ignore", "inherit", "inherit"],
        // vitest sets NODE_ENV=test, which would make Vite bundle React's development build.
        env: { ...process.env, NODE_ENV: "production" },
      },
    );
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`vite build of the console exited with ${code}`)),
    );
  });
}

/** A headless Chromium (Debian's /usr/bin/chromium) with a throw-away profile. */
export interface TestBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Path of the Chromium binary; AVTECH_CHROMIUM overrides it. */
export const chromiumPath = process.env.AVTECH_CHROMIUM ?? "/usr/bin/chromium";

/** Launches Chromium at 1366×768 (the console's reference laptop size). */
export async function launchBrowser(): Promise<TestBrowser> {
  const profile = await mkdtemp(join(tmpdir(), "avtech-console-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    viewport: { width: 1366, height: 768 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

async function mtimeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).mtimeMs;
  } catch {
    return undefined;
  }
}

async function newestMtime(paths: string[]): Promise<number> {
  let newest = 0;
  for (const path of paths) {
    const info = await stat(path);
    if (info.isDirectory()) {
      const entries = await readdir(path, { recursive: true });
      for (const entry of entries) newest = Math.max(newest, (await stat(join(path, entry))).mtimeMs);
    } else {
      newest = Math.max(newest, info.mtimeMs);
    }
  }
  return newest;
}
