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
 * The access rule of a procedure, derived from its name so a new RPC gets a safe default:
 * reads (Get*, List*, Watch*, Preview*, WhoAmI) need a viewer, everything else is a mutation
 * that needs an editor and is audited; user management and the audit log need an admin.
 */
export function policyFor(serviceTypeName: string, methodName: string): MethodPolicy {
  const procedure = `${serviceTypeName}/${methodName}`;
  if (publicMethods.has(procedure) || publicServicePrefixes.some((prefix) => serviceTypeName.startsWith(prefix))) {
    return { public: true, minRole: "viewer", mutating: false };
  }
  const read = readPrefixes.some((prefix) => methodName.startsWith(prefix));
  const minRole: RoleName = adminServices.has(serviceTypeName)
    ? "admin"
    : read || procedure === "avtech.auth.v1.AuthService/Logout"
      ? "viewer"
      : "editor";
  return { public: false, minRole, mutating: !read };
}
