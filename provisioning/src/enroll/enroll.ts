import {
  type EnrollmentKey as EnrollmentKeyMessage,
  EnrollmentKeyState,
  FleetService,
} from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { type Timestamp, timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";

/** What to create: see FleetService.CreateEnrollmentKey. */
export interface EnrollmentKeyRequest {
  /** A name for the key, usually the site ("Madrid store 12"). */
  readonly name: string;
  /** Group the enrolled screens join; "" for none. */
  readonly groupId: string;
  /** How many screens may use it; 0 = unlimited. */
  readonly maxUses: number;
  /** When it stops working; undefined = never. */
  readonly expiresAt: Date | undefined;
}

/** A created key. The secret is shown once by the control plane. */
export interface EnrollmentKey {
  readonly id: string;
  readonly secret: string;
}

/**
 * Whether a key still enrolls screens (FleetService's EnrollmentKeyState, at the time of the answer);
 * "unknown" for a state this CLI does not know yet (a newer control plane).
 */
export type EnrollmentKeyStateName = "active" | "expired" | "used_up" | "revoked" | "unknown";

/** A key as FleetService.ListEnrollmentKeys describes it: never its secret. */
export interface EnrollmentKeyInfo {
  readonly id: string;
  readonly name: string;
  /** Group the enrolled screens join; "" for none (or the group was deleted). */
  readonly groupId: string;
  readonly state: EnrollmentKeyStateName;
  /** Screens it enrolled. */
  readonly uses: number;
  /** 0 = unlimited. */
  readonly maxUses: number;
  /** undefined = never. */
  readonly expiresAt: Date | undefined;
  readonly createdAt: Date;
  /** undefined while not revoked. */
  readonly revokedAt: Date | undefined;
}

/** What the caller was doing, for messages that name it. */
type Action = "create" | "list" | "revoke";

const callOptions = (apiToken: string) => ({
  headers: { authorization: `Bearer ${apiToken}` },
  timeoutMs: 30_000,
});

/**
 * Creates an enrollment key through the control plane's FleetService with an API token (admin role), and
 * turns the usual failures into messages an installer can act on.
 */
export async function createEnrollmentKey(
  transport: Transport,
  apiToken: string,
  request: EnrollmentKeyRequest,
): Promise<EnrollmentKey> {
  const client = createClient(FleetService, transport);
  const expiresAt: Timestamp | undefined =
    request.expiresAt === undefined ? undefined : timestampFromDate(request.expiresAt);
  try {
    const response = await client.createEnrollmentKey(
      { name: request.name, groupId: request.groupId, maxUses: request.maxUses, expiresAt },
      callOptions(apiToken),
    );
    if (response.enrollmentKey === "") {
      throw new Error("the control plane returned an empty enrollment key");
    }
    return { id: response.id, secret: response.enrollmentKey };
  } catch (error) {
    throw explain(error, "create");
  }
}

/**
 * Lists the tenant's enrollment keys, newest first (the order FleetService.ListEnrollmentKeys
 * promises), with an API token that has the admin role.
 */
export async function listEnrollmentKeys(transport: Transport, apiToken: string): Promise<EnrollmentKeyInfo[]> {
  const client = createClient(FleetService, transport);
  try {
    const { keys } = await client.listEnrollmentKeys({}, callOptions(apiToken));
    return keys.map(keyInfo);
  } catch (error) {
    throw explain(error, "list");
  }
}

/**
 * Revokes the key with this id (FleetService.RevokeEnrollmentKey, admin role) and returns it as it
 * is now. Revoking a revoked key is not an error: it stays revoked since its first revocation.
 * An unknown id fails with a message that says how to find the ids.
 */
export async function revokeEnrollmentKey(
  transport: Transport,
  apiToken: string,
  id: string,
): Promise<EnrollmentKeyInfo> {
  const client = createClient(FleetService, transport);
  try {
    const { key } = await client.revokeEnrollmentKey({ id }, callOptions(apiToken));
    if (key === undefined) throw new Error("the control plane did not return the revoked key");
    return keyInfo(key);
  } catch (error) {
    throw explain(error, "revoke");
  }
}

const stateNames: Record<EnrollmentKeyState, EnrollmentKeyStateName> = {
  [EnrollmentKeyState.UNSPECIFIED]: "unknown",
  [EnrollmentKeyState.ACTIVE]: "active",
  [EnrollmentKeyState.EXPIRED]: "expired",
  [EnrollmentKeyState.USED_UP]: "used_up",
  [EnrollmentKeyState.REVOKED]: "revoked",
};

function keyInfo(key: EnrollmentKeyMessage): EnrollmentKeyInfo {
  if (key.createdAt === undefined) {
    throw new Error(`the control plane sent enrollment key ${key.id} without its creation time`);
  }
  return {
    id: key.id,
    name: key.name,
    groupId: key.groupId,
    state: stateNames[key.state] ?? "unknown",
    uses: key.uses,
    maxUses: key.maxUses,
    expiresAt: key.expiresAt && timestampDate(key.expiresAt),
    createdAt: timestampDate(key.createdAt),
    revokedAt: key.revokedAt && timestampDate(key.revokedAt),
  };
}

const actionText: Record<Action, string> = {
  create: "create enrollment keys",
  list: "list enrollment keys",
  revoke: "revoke enrollment keys",
};

function explain(error: unknown, action: Action): Error {
  if (!(error instanceof ConnectError)) return error instanceof Error ? error : new Error(String(error));
  switch (error.code) {
    case Code.Unauthenticated:
      return new Error("the API token was refused: create one in the console (Settings → API tokens)", {
        cause: error,
      });
    case Code.PermissionDenied:
      return new Error(`the API token may not ${actionText[action]}: it needs the admin role`, { cause: error });
    case Code.NotFound:
      return action === "revoke"
        ? new Error(`${error.rawMessage}: list-enrollment-keys shows the ids`, { cause: error })
        : new Error(`no such group: check the group id (${error.rawMessage})`, { cause: error });
    case Code.Unavailable:
    case Code.DeadlineExceeded:
      return new Error(`the control plane did not answer (${error.rawMessage}): check the URL and the network`, {
        cause: error,
      });
    default:
      return new Error(`the control plane refused the request: ${error.rawMessage}`, { cause: error });
  }
}
