import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isENOENT, loadCredentials, prepareLayout, saveCredentials, stateLayout, writeFileAtomic } from "./index.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "avtech-storage-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("writeFileAtomic", () => {
  it("replaces the file and leaves no temp file", async () => {
    const path = join(dir, "state.json");
    await writeFileAtomic(path, "one");
    await writeFileAtomic(path, "two");
    expect(await readFile(path, "utf8")).toBe("two");
    expect(await readdir(dir)).toEqual(["state.json"]);
  });

  it("keeps the old content when the write fails", async () => {
    const path = join(dir, "state.json");
    await writeFileAtomic(path, "old");
    await expect(writeFileAtomic(join(dir, "missing", "x"), "new")).rejects.toSatisfy(isENOENT);
    expect(await readFile(path, "utf8")).toBe("old");
  });
});

describe("credentials", () => {
  it("are stored with mode 0600 and read back", async () => {
    const path = join(dir, "token.json");
    expect(await loadCredentials(path)).toBeUndefined();
    await saveCredentials(path, { deviceId: "d1", deviceToken: "secret", screenName: "Lobby" });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await loadCredentials(path)).toEqual({ deviceId: "d1", deviceToken: "secret", screenName: "Lobby" });
  });
});

describe("layout", () => {
  it("is versioned and start-up removes torn temp files", async () => {
    const layout = stateLayout(dir, join(dir, "media"));
    expect(layout.stateDir).toBe(join(dir, "v1"));
    expect(layout.mediaDir).toBe(join(dir, "media", "v1"));
    await prepareLayout(layout);
    await writeFile(join(layout.stateDir, ".last-good-state.binpb.abc.tmp"), "torn");
    await prepareLayout(layout);
    expect(await readdir(layout.stateDir)).not.toContain(".last-good-state.binpb.abc.tmp");
  });
});
