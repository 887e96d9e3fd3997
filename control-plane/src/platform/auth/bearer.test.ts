import { describe, expect, it } from "vitest";
import { parseBearerToken } from "./bearer.ts";

describe("parseBearerToken", () => {
  it("reads the token of `Bearer <token>`, the scheme in any case", () => {
    expect(parseBearerToken("Bearer avs_abc.def")).toBe("avs_abc.def");
    expect(parseBearerToken("bearer   avd_123")).toBe("avd_123");
    expect(parseBearerToken("BEARER\tx")).toBe("x");
  });

  it("finds none in a missing header, another scheme, or anything but one token", () => {
    for (const header of [undefined, null, "", "Bearer", "Bearer ", "Basic dXNlcjpwdw==", "Bearer a b", " Bearer a"]) {
      expect(parseBearerToken(header), String(header)).toBeUndefined();
    }
  });
});
