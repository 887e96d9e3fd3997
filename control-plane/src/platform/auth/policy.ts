import { ContentService } from "@avtech/proto/gen/avtech/content/v1/content_pb.js";
import { ReportService } from "@avtech/proto/gen/avtech/report/v1/report_pb.js";
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
const readPrefixes = ["Get", "List", "Watch", "WhoAmI", "Preview"];
/**
 * Reads named one by one, whatever their prefix: the ReportService RPCs are open to viewers and
 * not audited, the exports included (they read what the Get RPCs read, page by page). A new
 * ReportService RPC is not in this list, so it gets the safe default until someone adds it here
 * (policy.test.ts checks that every ReportService RPC is listed).
 */
export const viewerReads: ReadonlySet<string> = new Set([
  "avtech.report.v1.ReportService/GetPlayReport",
  "avtech.report.v1.ReportService/ExportPlayReport",
  "avtech.report.v1.ReportService/GetUptimeReport",
  "avtech.report.v1.ReportService/ExportUptimeReport",
]);

/**
 * The access rule of a procedure, derived from its name so a new RPC gets a safe default:
 * reads (Get*, List*, Watch*, Preview*, WhoAmI) need a viewer, everything else is a mutation
 * that needs an editor and is audited; user management and the audit log need an admin.
 */
export function policyFor(serviceTypeName: string, methodName: string): MethodPolicy {
  const procedure = procedureName(serviceTypeName, methodName);
  if (publicMethods.has(procedure) || publicServicePrefixes.some((prefix) => serviceTypeName.startsWith(prefix))) {
    return { public: true, minRole: "viewer", mutating: false };
  }
  const read = viewerReads.has(procedure) || readPrefixes.some((prefix) => methodName.startsWith(prefix));
  const minRole: RoleName = adminServices.has(serviceTypeName)
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
  /** GET /v1/reports/plays.csv: the CSV ExportPlayReport streams. */
  playReportCsv: ReportService.method.exportPlayReport,
  /** GET /v1/reports/uptime.csv: the CSV ExportUptimeReport streams. */
  uptimeReportCsv: ReportService.method.exportUptimeReport,
} as const satisfies Record<string, DescMethod>;
