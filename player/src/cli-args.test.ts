import { describe, expect, it } from "vitest";
import { parsePlayerArgs, UsageError } from "./cli-args.ts";
import { defaultConfigPath } from "./config/index.ts";

describe("parsePlayerArgs", () => {
  it("reads the command and the config path, defaulting to the boot partition's file", () => {
    expect(parsePlayerArgs(["status"])).toEqual({ help: false, command: "status", configPath: defaultConfigPath });
    expect(parsePlayerArgs(["doctor", "--config", "/tmp/a.toml"])).toEqual({
      help: false,
      command: "doctor",
      configPath: "/tmp/a.toml",
    });
  });

  it("is help when asked (exit 0) or when no command is given (exit 2)", () => {
    expect(parsePlayerArgs(["--help"])).toEqual({ help: true, asked: true, command: undefined });
    expect(parsePlayerArgs([])).toEqual({ help: true, asked: false, command: undefined });
  });

  it("refuses unknown commands, extra arguments and unknown options", () => {
    expect(() => parsePlayerArgs(["restart"])).toThrow(UsageError);
    expect(() => parsePlayerArgs(["status", "now"])).toThrow('unexpected argument "now"');
    expect(() => parsePlayerArgs(["doctor", "--verbose"])).toThrow(
      expect.objectContaining({ code: "ERR_PARSE_ARGS_UNKNOWN_OPTION" }),
    );
  });
});
