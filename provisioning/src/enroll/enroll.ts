import { FleetService } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { type Timestamp, timestampFromDate } from "@bufbuild/protobuf/wkt";
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
      { headers: { authorization: `Bearer ${apiToken}` }, timeoutMs: 30_000 },
    );
    if (response.enrollmentKey === "") {
      throw new Error("the control plane returned an empty enrollment key");
    }
    return { id: response.id, secret: response.enrollmentKey };
  } catch (error) {
    throw explain(error);
  }
}

function explain(error: unknown): Error {
  if (!(error instanceof ConnectError)) return error instanceof Error ? error : new Error(String(error));
  switch (error.code) {
    case Code.Unauthenticated:
      return new Error("the API token was refused: create one in the console (Settings → API tokens)", {
        cause: error,
      });
    case Code.PermissionDenied:
      return new Error("the API token may not create enrollment keys: it needs the admin role", { cause: error });
    case Code.NotFound:
      return new Error(`no such group: check the group id (${error.rawMessage})`, { cause: error });
    case Code.Unavailable:
    case Code.DeadlineExceeded:
      return new Error(`the control plane did not answer (${error.rawMessage}): check the URL and the network`, {
        cause: error,
      });
    default:
      return new Error(`the control plane refused the request: ${error.rawMessage}`, { cause: error });
  }
}
