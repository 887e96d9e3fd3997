import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { displayName, sanitizeFileName } from "./names.ts";

describe("sanitizeFileName", () => {
  it("drops path components, including ../", () => {
    expect(sanitizeFileName("../../etc/passwd.mp4")).toBe("passwd.mp4");
    expect(sanitizeFileName("C:\\Users\\me\\clip.mp4")).toBe("clip.mp4");
  });

  it("removes control characters and leading dots", () => {
    expect(sanitizeFileName("a\u0000b\nc\u202e.mp4")).toBe("a b c\u202e.mp4");
    expect(sanitizeFileName("..hidden.mp4")).toBe("hidden.mp4");
  });

  it("refuses a name with nothing left", () => {
    const attempt = () => sanitizeFileName("../..");
    expect(attempt).toThrow(ConnectError);
    try {
      attempt();
    } catch (error) {
      expect((error as ConnectError).code).toBe(Code.InvalidArgument);
    }
  });
});

describe("displayName", () => {
  it("defaults to the file name without extension", () => {
    expect(displayName("", "lobby loop.mp4")).toBe("lobby loop");
    expect(displayName("  Lobby\tLoop ", "x.mp4")).toBe("Lobby Loop");
  });
});
