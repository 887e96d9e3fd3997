import { Code, type ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import type { ProbeInfo } from "./media.ts";
import { acceptMedia, type MediaLimits } from "./validate.ts";

const limits: MediaLimits = {
  minDurationMs: 1000,
  maxDurationMs: 20_000,
  maxWidth: 1920,
  maxHeight: 1080,
  allowedCodecs: ["h264"],
};

const probe = (video: Partial<ProbeInfo["videoStreams"][number]> = {}, info: Partial<ProbeInfo> = {}): ProbeInfo => ({
  formatName: "mov,mp4,m4a,3gp,3g2,mj2",
  durationMs: 10_000,
  audioStreams: 0,
  videoStreams: [
    { codec: "h264", width: 1920, height: 1080, durationMs: 10_000, declaredFrames: 250, readPackets: 250, ...video },
  ],
  ...info,
});

function refusal(info: ProbeInfo | undefined): string {
  try {
    acceptMedia(info, limits);
  } catch (error) {
    expect((error as ConnectError).code).toBe(Code.InvalidArgument);
    return (error as ConnectError).rawMessage;
  }
  throw new Error("expected a refusal");
}

describe("acceptMedia", () => {
  it("accepts 1 s and 20 s exactly (inclusive limits) at 1920x1080", () => {
    expect(acceptMedia(probe({}, { durationMs: 1000 }), limits)).toMatchObject({ durationMs: 1000, codec: "h264" });
    expect(acceptMedia(probe({}, { durationMs: 20_000 }), limits).contentType).toBe("video/mp4");
  });

  it("says why a file is refused", () => {
    expect(refusal(undefined)).toMatch(/not a video that ffprobe can read/);
    expect(refusal(probe({}, { durationMs: 20_001 }))).toMatch(/20\.00 s long; clips must be 1–20 s/);
    expect(refusal(probe({ codec: "hevc" }))).toMatch(/codec is hevc; players decode only h264/);
    expect(refusal(probe({ width: 1080, height: 1920 }))).toMatch(/1080x1920; the maximum is 1920x1080/);
    expect(refusal(probe({ readPackets: 10 }))).toMatch(/truncated/);
    expect(refusal(probe({}, { formatName: "avi" }))).toMatch(/container "avi" is not supported/);
    expect(refusal({ formatName: "mp3", durationMs: 3000, audioStreams: 1, videoStreams: [] })).toMatch(/only audio/);
  });

  it("falls back to the stream duration when the container has none", () => {
    expect(acceptMedia(probe({ durationMs: 5000 }, { durationMs: undefined }), limits).durationMs).toBe(5000);
  });
});
