import { ContentService } from "@avtech/proto/gen/avtech/content/v1/content_pb.js";
import { ReportService } from "@avtech/proto/gen/avtech/report/v1/report_pb.js";
import { UpdateService } from "@avtech/proto/gen/avtech/update/v1/update_pb.js";
import type { DescMethod } from "@bufbuild/protobuf";
import type { RoleName } from "../db/entities.ts";

/**
 * Whose data a method touches and how the ids in its request are resolved.
 *
 * - `caller`: the caller's tenant (from the bearer token), and nothing else. Every id in the
 *   request (fields named `id`, `*_id`, `*_ids`, nested ones too) is looked up in that tenant:
 *   another tenant's id and an unknown id both answer NOT_FOUND, naming the id, unless
 *   {@link MethodPolicy.ids} declares the field otherwise.
 * - `device`: the screen that the device's own credential names (pairing secret, enrollment key or
 *   device token), in that screen's tenant. The ids a device sends are its own reports; one that
 *   names another screen's or tenant's object changes nothing of theirs.
 * - `none`: no tenant's data (login checks credentials; health and reflection describe the server).
 *   Such a method takes no ids.
 */
export type TenantRule = "caller" | "device" | "none";

/**
 * How one id field of a request is treated, where it is not a plain lookup:
 * - `filter`: narrows a list of the caller's tenant's rows; an id from elsewhere matches none of
 *   them, so the answer is OK and holds nothing of another tenant's.
 * - `ignored`: the server assigns this id (e.g. the id inside a message being created); what the
 *   client sends is dropped.
 * - `device`: a device's own report (see {@link TenantRule} `device`).
 */
export type IdRule = "filter" | "ignored" | "device";

/** What a method requires of its caller, and how tenancy applies to it. */
export interface MethodPolicy {
  /** False when the procedure has no entry in the policy: it is then refused to everyone. */
  declared: boolean;
  /** No bearer token needed (login, device endpoints with their own auth, gRPC health/reflection). */
  public: boolean;
  /** Lowest role allowed; ignored for public methods. */
  minRole: RoleName;
  /** Changes state: recorded in the audit log. */
  mutating: boolean;
  /** Whose data the method touches; see {@link TenantRule}. */
  tenant: TenantRule;
  /**
   * Request id fields that are not looked up in the tenant, by path of proto field names
   * (`rule.id`, `target.group_id`); every id field not named here is a lookup (NOT_FOUND when the
   * object is not the caller's). For `device` methods every id field is a `device` report.
   */
  ids: Readonly<Record<string, IdRule>>;
}

type Rule = Omit<MethodPolicy, "declared" | "ids"> & { ids?: MethodPolicy["ids"] };

const publicNoTenant: Rule = { public: true, minRole: "viewer", mutating: false, tenant: "none" };
const device: Rule = { public: true, minRole: "viewer", mutating: false, tenant: "device" };
const read = (minRole: RoleName, ids?: MethodPolicy["ids"]): Rule => ({
  public: false,
  minRole,
  mutating: false,
  tenant: "caller",
  ids,
});
const write = (minRole: RoleName, ids?: MethodPolicy["ids"]): Rule => ({
  public: false,
  minRole,
  mutating: true,
  tenant: "caller",
  ids,
});

/**
 * The rule of every RPC we serve, by service type name and method name. A procedure that is not
 * here is refused to everyone (PERMISSION_DENIED), and the authorization coverage test
 * (test/auth/authorization-coverage.test.ts) fails for every RPC in the contracts without an
 * entry, so a new RPC is declared here on purpose, with its role and tenant rule, before it
 * answers anyone. Reads need a viewer, mutations an editor (and are audited), users, the audit
 * log, changes of OS releases and rollouts, and of alert settings an admin.
 */
const rules: Readonly<Record<string, Readonly<Record<string, Rule>>>> = {
  "avtech.auth.v1.AuthService": {
    Login: publicNoTenant,
    Logout: write("viewer"),
    WhoAmI: read("viewer"),
  },
  "avtech.auth.v1.UserService": {
    ListUsers: read("admin"),
    CreateUser: write("admin"),
    UpdateUser: write("admin"),
    DeleteUser: write("admin"),
    ListApiTokens: read("admin"),
    CreateApiToken: write("admin"),
    RevokeApiToken: write("admin"),
  },
  "avtech.auth.v1.AuditService": {
    // An event's subject may be an object deleted since, so the id is a filter, not a lookup.
    ListAuditEvents: read("admin", { subject_id: "filter" }),
  },
  "avtech.content.v1.ContentService": {
    UploadVideo: write("editor"),
    ListVideos: read("viewer"),
    GetVideo: read("viewer"),
    DeleteVideo: write("editor"),
    GetStorageUsage: read("viewer"),
  },
  "avtech.schedule.v1.ScheduleService": {
    CreatePlaylist: write("editor"),
    GetPlaylist: read("viewer"),
    ListPlaylists: read("viewer"),
    UpdatePlaylist: write("editor"),
    DeletePlaylist: write("editor"),
    // The new rule's id is assigned by the server.
    CreateRule: write("editor", { "rule.id": "ignored" }),
    GetRule: read("viewer"),
    ListRules: read("viewer"),
    UpdateRule: write("editor"),
    DeleteRule: write("editor"),
    SetDefaultPlaylist: write("editor"),
    ListDefaultPlaylists: read("viewer"),
    PreviewSchedule: read("viewer"),
  },
  "avtech.publish.v1.PublishService": {
    Publish: write("editor"),
    GetDesiredState: read("viewer"),
  },
  "avtech.fleet.v1.FleetService": {
    ListScreens: read("viewer"),
    GetScreen: read("viewer"),
    UpdateScreen: write("editor"),
    DeleteScreen: write("editor"),
    ClaimScreen: write("editor"),
    RevokeScreenToken: write("editor"),
    CreateGroup: write("editor"),
    ListGroups: read("viewer"),
    DeleteGroup: write("editor"),
    SendCommand: write("editor"),
    ListCommands: read("viewer"),
    GetScreenshot: read("viewer"),
    GetHealthHistory: read("viewer"),
    CreateEnrollmentKey: write("editor"),
    ListEnrollmentKeys: read("viewer"),
    RevokeEnrollmentKey: write("editor"),
    WatchFleet: read("viewer"),
  },
  // A bad OS release can take a fleet down: every change of releases and rollouts needs an admin.
  "avtech.update.v1.UpdateService": {
    UploadRelease: write("admin"),
    ListReleases: read("viewer"),
    GetRelease: read("viewer"),
    DeleteRelease: write("admin"),
    CreateRollout: write("admin"),
    GetRollout: read("viewer"),
    ListRollouts: read("viewer"),
    PauseRollout: write("admin"),
    ResumeRollout: write("admin"),
    AbortRollout: write("admin"),
    ListRolloutScreens: read("viewer"),
    ListScreenUpdates: read("viewer"),
  },
  // Reads of the play and uptime rollups; the exports stream what the Get RPCs page through. Every id is
  // looked up before anything else; a video or playlist id is the tenant's when it exists or when the
  // tenant's screens played it (a deleted clip's plays are still reported).
  "avtech.report.v1.ReportService": {
    GetPlayReport: read("viewer"),
    ExportPlayReport: read("viewer"),
    GetUptimeReport: read("viewer"),
    ExportUptimeReport: read("viewer"),
  },
  // Alerts: everyone may look; rules, channels (a webhook's secret, where alerts go), dead letters
  // and acknowledgements are an admin's.
  "avtech.alert.v1.AlertService": {
    ListAlerts: read("viewer"),
    GetAlert: read("viewer"),
    AcknowledgeAlert: write("admin"),
    ListAlertRules: read("viewer"),
    UpdateAlertRules: write("admin"),
    CreateChannel: write("admin"),
    ListChannels: read("viewer"),
    DeleteChannel: write("admin"),
    ListDeadLetters: read("viewer"),
    RetryDeadLetter: write("admin"),
    DiscardDeadLetter: write("admin"),
  },
  "avtech.device.v1.DeviceService": {
    Register: device,
    CompletePairing: device,
    Connect: device,
  },
  "grpc.health.v1.Health": { Check: publicNoTenant, Watch: publicNoTenant },
  "grpc.reflection.v1.ServerReflection": { ServerReflectionInfo: publicNoTenant },
  "grpc.reflection.v1alpha.ServerReflection": { ServerReflectionInfo: publicNoTenant },
};

/** The policy of a procedure with no entry: refused to everyone, audited as a mutation when authenticated. */
const undeclared: MethodPolicy = {
  declared: false,
  public: false,
  minRole: "admin",
  mutating: true,
  tenant: "caller",
  ids: {},
};

/**
 * The access rule of a procedure: its entry in the table above, or, for a procedure without one,
 * a policy with `declared: false` that {@link authorize} refuses to every caller.
 */
export function policyFor(serviceTypeName: string, methodName: string): MethodPolicy {
  const rule = Object.hasOwn(rules, serviceTypeName) ? rules[serviceTypeName] : undefined;
  const entry = rule && Object.hasOwn(rule, methodName) ? rule[methodName] : undefined;
  if (!entry) return undeclared;
  return { declared: true, ...entry, ids: entry.ids ?? {} };
}

/** Every procedure the policy declares (`<service type name>/<method name>`), for the coverage test. */
export function declaredProcedures(): string[] {
  return Object.entries(rules).flatMap(([service, methods]) =>
    Object.keys(methods).map((method) => procedureName(service, method)),
  );
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
  /** GET /v1/reports/plays.csv: the CSV ExportPlayReport streams. */
  playReportCsv: ReportService.method.exportPlayReport,
  /** GET /v1/reports/uptime.csv: the CSV ExportUptimeReport streams. */
  uptimeReportCsv: ReportService.method.exportUptimeReport,
} as const satisfies Record<string, DescMethod>;
