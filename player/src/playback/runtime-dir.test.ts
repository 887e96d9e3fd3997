import { describe, expect, it } from "vitest";
import { playbackRuntimeDir } from "./runtime-dir.ts";

describe("playbackRuntimeDir", () => {
  it("is the same folder for the same player across restarts, so a stale mpv is found again", () => {
    expect(playbackRuntimeDir("/var/lib/avtech", "/tmp", 1000)).toBe(
      playbackRuntimeDir("/var/lib/avtech/", "/tmp", 1000),
    );
  });

  it("differs between users and between data folders, so players on one machine never share it", () => {
    const mine = playbackRuntimeDir("/home/a/.data/demo/player/data", "/tmp", 1000);
    expect(mine).toMatch(/^\/tmp\/avtech-player-1000-[0-9a-f]{12}$/);
    expect(playbackRuntimeDir("/home/a/.data/demo/player/data", "/tmp", 0)).not.toBe(mine);
    expect(playbackRuntimeDir("/home/b/.data/demo/player/data", "/tmp", 1000)).not.toBe(mine);
  });
});
