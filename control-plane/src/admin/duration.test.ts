import { describe, expect, it } from "vitest";
import { AdminCommandError } from "./commands.ts";
import { formatAge, parseDuration } from "./duration.ts";

describe("parseDuration", () => {
  it("reads seconds, minutes, hours, days and their sums", () => {
    expect(parseDuration("90s", "--since")).toBe(90_000);
    expect(parseDuration("10m", "--since")).toBe(600_000);
    expect(parseDuration("1h30m", "--since")).toBe(5_400_000);
    expect(parseDuration("2d", "--since")).toBe(172_800_000);
  });

  it("refuses what is not a duration, naming the flag and giving examples", () => {
    for (const text of ["10", "10 m", "m10", "1.5h", "-5m", "10min", "", "0m"]) {
      expect(() => parseDuration(text, "--since")).toThrow(AdminCommandError);
    }
    expect(() => parseDuration("10min", "--wait")).toThrow(
      '--wait "10min" is not a duration: use a number and a unit s, m, h or d, e.g. 10m, 1h30m, 2d',
    );
    expect(() => parseDuration("0m", "--since")).toThrow("--since must be longer than 0");
  });
});

describe("formatAge", () => {
  it("gives the two largest units", () => {
    expect(formatAge(42_000)).toBe("42 s");
    expect(formatAge(3 * 60_000)).toBe("3 min");
    expect(formatAge(125 * 60_000)).toBe("2 h 5 min");
    expect(formatAge(49 * 3_600_000)).toBe("2 d 1 h");
  });
});
