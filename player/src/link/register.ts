import type { DeviceFacts, DeviceService } from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { Client } from "@connectrpc/connect";
import type { Logger } from "pino";
import type { Enrollment } from "../config/index.ts";
import { Backoff, type Clock, sleep } from "../lib/index.ts";
import type { Playback } from "../playback/types.ts";
import { loadCredentials, messageOf, type StoredCredentials, saveCredentials } from "../storage/index.ts";

/** Dependencies of {@link ensureCredentials}. */
export interface RegistrationDeps {
  client: Client<typeof DeviceService>;
  enrollment: Enrollment;
  /** The credentials file (mode 0600). */
  tokenFile: string;
  hardwareId: string;
  facts: DeviceFacts;
  playback: Playback;
  clock: Clock;
  logger: Logger;
  /** Backoff between failed attempts; default full jitter 1 s → 5 min. */
  backoff?: Backoff;
}

/**
 * Returns the stored credentials, or registers the screen until it has some: with an
 * enrollment key it joins that key's tenant at once; otherwise it shows the pairing code on
 * screen and polls CompletePairing until a fleet manager claims it (registering again for a new
 * code when one expires). Network failures retry with backoff; the token is stored 0600.
 */
export async function ensureCredentials(deps: RegistrationDeps, signal: AbortSignal): Promise<StoredCredentials> {
  const stored = await loadCredentials(deps.tokenFile).catch((error: unknown) => {
    // A corrupt token file cannot authenticate anyway: registering again is the only way back.
    deps.logger.error({ err: messageOf(error) }, "unreadable credentials; registering again");
    return undefined;
  });
  if (stored) return stored;
  const backoff = deps.backoff ?? new Backoff();
  for (;;) {
    try {
      const credentials = await registerOnce(deps, signal);
      if (credentials) {
        await saveCredentials(deps.tokenFile, credentials);
        deps.logger.info({ deviceId: credentials.deviceId }, "registered");
        return credentials;
      }
      backoff.reset();
    } catch (error) {
      if (signal.aborted) throw error;
      deps.logger.warn({ err: messageOf(error) }, "registration failed; retrying");
      await sleep(deps.clock, backoff.next(), signal);
    }
  }
}

/** One Register round; undefined when a pairing code expired unclaimed (register again). */
async function registerOnce(deps: RegistrationDeps, signal: AbortSignal): Promise<StoredCredentials | undefined> {
  const { client, clock, playback } = deps;
  const response = await client.register(
    {
      hardwareId: deps.hardwareId,
      facts: deps.facts,
      enrollmentKey: deps.enrollment.kind === "enrollmentKey" ? deps.enrollment.key : "",
    },
    { signal },
  );
  if (response.outcome.case === "enrolled") return toStored(response.outcome.value);
  if (response.outcome.case !== "pairing")
    throw new Error("Register answered with neither credentials nor a pairing code");
  const ticket = response.outcome.value;
  const expiresAt = ticket.expiresAt ? timestampDate(ticket.expiresAt) : new Date(clock.now().getTime() + 15 * 60_000);
  // The code is public (it is on screen); logging it lets an installer read it over SSH or the
  // journal when the display is not in view. The pairing secret is never logged.
  deps.logger.info({ pairingCode: ticket.pairingCode, expiresAt }, "showing the pairing code");
  await playback.showSlate({ kind: "pairing", pairingCode: ticket.pairingCode, expiresAt });
  const pollMs = Math.max(1, ticket.pollIntervalSeconds || 5) * 1000;
  while (clock.now() < expiresAt) {
    await sleep(clock, pollMs, signal);
    const poll = await client.completePairing({ pairingSecret: ticket.pairingSecret }, { signal });
    if (poll.outcome.case === "claimed") return toStored(poll.outcome.value);
  }
  return undefined;
}

function toStored(c: { deviceId: string; deviceToken: string; screenName: string }): StoredCredentials {
  return { deviceId: c.deviceId, deviceToken: c.deviceToken, screenName: c.screenName };
}
