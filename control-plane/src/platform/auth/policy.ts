import { ContentService } from "@avtech/proto/gen/avtech/content/v1/content_pb.js";
import { UpdateService } from "@avtech/proto/gen/avtech/update/v1/update_pb.js";
import type { DescMethod } from "@bufbuild/protobuf";
import type { RoleName } from "../db/entities.ts";

/** What a method requires of its caller. */
export interface MethodPolicy {
  /** No bearer token needed (login, device endpoints with their own auth, gRPC health/reflection). */
  public: boolean;
  /** Lowest role allowed; ignored for public methods. */
  minRole: RoleName;
  /** Changes state: recorded in the audit log. */
  mutating: boolean;
}

const publicMethods = new Set([
  "avtech.auth.v1.AuthService/Login",
  "avtech.device.v1.DeviceService/Register",
  "avtech.device.v1.DeviceService/CompletePairing",
  "avtech.device.v1.DeviceService/Connect",
]);
const publicServicePrefixes = ["grpc.health.v1.", "grpc.reflection."];
const adminServices = new Set(["avtech.auth.v1.UserService", "avtech.auth.v1.AuditService"]);
/** Services whose reads need a viewer but whose every change needs an admin (OS releases and rollouts). */
const adminWriteServices = new Set(["avtech.update.v1.UpdateService"]);
const readPrefixes = ["Get", "List", "Watch", "WhoAmI", "Preview"];

/**
 * The access rule of a procedure, derived from its name so a new RPC gets a safe default:
 * reads (Get*, List*, Watch*, Preview*, WhoAmI) need a viewer, everything else is a mutation
 * that needs an editor and is audited; user management and the audit log need an admin, and so
 * do the changes of OS updates (a bad release can take a fleet down), whose reads need a viewer.
 * Tenancy is every handler's: it looks ids up only in the caller's tenant (NOT_FOUND otherwise).
 */
export function policyFor(serviceTypeName: string, methodName: string): MethodPolicy {
  const procedure = procedureName(serviceTypeName, methodName);
  if (publicMethods.has(procedure) || publicServicePrefixes.some((prefix) => serviceTypeName.startsWith(prefix))) {
    return { public: true, minRole: "viewer", mutating: false };
  }
  const read = readPrefixes.some((prefix) => methodName.startsWith(prefix));
  const minRole: RoleName =
    adminServices.has(serviceTypeName) || (adminWriteServices.has(serviceTypeName) && !read)
      ? "admin"
      : read || procedure === "avtech.auth.v1.AuthService/Logout"
        ? "viewer"
        : "editor";
  return { public: false, minRole, mutating: !read };
}

/** `<service type name>/<method name>`: how the rules above name a procedure, and the audit log's action for it. */
export function procedureName(serviceTypeName: string, methodName: string): string {
  return `${serviceTypeName}/${methodName}`;
}

/** The access rule of a generated method descriptor: {@link policyFor} of its service and name. */
export function methodPolicy(method: DescMethod): MethodPolicy {
  return policyFor(method.parent.typeName, method.name);
}

/**
 * The console's plain HTTP routes, each declared as the RPC it is another door to: the route needs
 * exactly that RPC's role (its {@link methodPolicy}), a mutating one is audited under that RPC's
 * action, and a route runs only through `HttpAccess.run` with its entry here, so neither can differ
 * between the two doors. Screens' `/assets/<sha256>` is not here: like DeviceService.Connect it is
 * public in these terms and authenticated by the device token (`authenticateScreen` in src/fleet/device).
 */
export const httpRoutes = {
  /** POST /v1/videos: UploadVideo with the clip as the raw request body. */
  uploadVideo: ContentService.method.uploadVideo,
  /** GET/HEAD /v1/videos/<id>/file: the bytes of the video GetVideo describes. */
  videoFile: ContentService.method.getVideo,
  /** GET/HEAD /v1/videos/<id>/thumbnail.jpg: the thumbnail of the video GetVideo describes. */
  videoThumbnail: ContentService.method.getVideo,
  /** POST /v1/releases: UploadRelease with the bundle as the raw request body. */
  uploadRelease: UpdateService.method.uploadRelease,
} as const satisfies Record<string, DescMethod>;
