import { Code, ConnectError } from "@connectrpc/connect";
import { parseBearerToken } from "../../platform/auth/bearer.ts";
import { hashSecret } from "../../platform/auth/secrets.ts";
import type { ScreenRecord, ScreenStore } from "../fleet/ports.ts";

/**
 * The screen behind an `authorization` header value (`Bearer <device token>`): the one check for
 * every door a screen uses, DeviceService.Connect and `/assets/<sha256>` alike. Throws
 * UNAUTHENTICATED for a missing token, and for one no screen holds (unknown, revoked by a new
 * enrollment, or a user's session or API token, which never opens a device door).
 */
export async function authenticateScreen(
  screens: Pick<ScreenStore, "findByTokenHash">,
  authorization: string | null | undefined,
): Promise<{ screen: ScreenRecord; tokenHash: string }> {
  const token = parseBearerToken(authorization);
  if (!token) {
    throw new ConnectError("send the device token as `authorization: Bearer <token>`", Code.Unauthenticated);
  }
  const tokenHash = hashSecret(token);
  const screen = await screens.findByTokenHash(tokenHash);
  if (!screen) {
    throw new ConnectError("device token is unknown or revoked: register the screen again", Code.Unauthenticated);
  }
  return { screen, tokenHash };
}
