import { ReportService } from "@avtech/proto/gen/avtech/report/v1/report_pb.js";
import { describe, expect, it } from "vitest";
import { declaredProcedures, httpRoutes, methodPolicy, policyFor, procedureName } from "./policy.ts";

describe("policyFor", () => {
  it("lets anyone log in and probe health", () => {
    expect(policyFor("avtech.auth.v1.AuthService", "Login").public).toBe(true);
    expect(policyFor("grpc.health.v1.Health", "Check").public).toBe(true);
    expect(policyFor("avtech.device.v1.DeviceService", "Connect").public).toBe(true);
  });

  it("needs an editor for mutations and audits them", () => {
    expect(policyFor("avtech.content.v1.ContentService", "UploadVideo")).toMatchObject({
      declared: true,
      public: false,
      minRole: "editor",
      mutating: true,
      tenant: "caller",
    });
  });

  it("lets viewers read without auditing", () => {
    expect(policyFor("avtech.content.v1.ContentService", "ListVideos")).toMatchObject({
      declared: true,
      public: false,
      minRole: "viewer",
      mutating: false,
      tenant: "caller",
    });
  });

  it("lets viewers read every report, the CSV exports included, without auditing", () => {
    expect(ReportService.methods.map((method) => method.name)).toEqual([
      "GetPlayReport",
      "ExportPlayReport",
      "GetUptimeReport",
      "ExportUptimeReport",
    ]);
    for (const method of ReportService.methods) {
      expect(methodPolicy(method), method.name).toMatchObject({
        declared: true,
        public: false,
        minRole: "viewer",
        mutating: false,
        tenant: "caller",
      });
    }
    // Every id is a lookup in the caller's tenant (NOT_FOUND naming it).
    for (const method of ReportService.methods) expect(methodPolicy(method).ids, method.name).toEqual({});
  });

  it("keeps user management and the audit log to admins", () => {
    expect(policyFor("avtech.auth.v1.UserService", "ListUsers").minRole).toBe("admin");
    expect(policyFor("avtech.auth.v1.AuditService", "ListAuditEvents").minRole).toBe("admin");
  });

  it("refuses a procedure it does not declare, and declares device and public methods with their tenant rule", () => {
    const unknown = policyFor("avtech.nosuch.v1.NoSuchService", "GetThing");
    expect(unknown).toMatchObject({ declared: false, public: false, mutating: true });
    expect(policyFor("avtech.fleet.v1.FleetService", "NoSuchMethod").declared).toBe(false);
    // A service key inherited from Object.prototype is no declaration either.
    expect(policyFor("constructor", "name").declared).toBe(false);
    expect(policyFor("avtech.device.v1.DeviceService", "Connect")).toMatchObject({ public: true, tenant: "device" });
    expect(policyFor("grpc.health.v1.Health", "Check")).toMatchObject({ public: true, tenant: "none" });
    expect(declaredProcedures()).toContain("avtech.publish.v1.PublishService/Publish");
  });

  it("lets viewers read OS releases and rollouts and keeps every change of them to admins", () => {
    for (const method of [
      "ListReleases",
      "GetRelease",
      "GetRollout",
      "ListRollouts",
      "ListRolloutScreens",
      "ListScreenUpdates",
    ]) {
      expect(policyFor("avtech.update.v1.UpdateService", method)).toMatchObject({
        declared: true,
        public: false,
        minRole: "viewer",
        mutating: false,
        tenant: "caller",
      });
    }
    for (const method of [
      "UploadRelease",
      "DeleteRelease",
      "CreateRollout",
      "PauseRollout",
      "ResumeRollout",
      "AbortRollout",
    ]) {
      expect(policyFor("avtech.update.v1.UpdateService", method)).toMatchObject({
        declared: true,
        public: false,
        minRole: "admin",
        mutating: true,
        tenant: "caller",
      });
    }
    expect(methodPolicy(httpRoutes.uploadRelease)).toMatchObject({ public: false, minRole: "admin", mutating: true });
  });

  it("declares each plain HTTP route as the RPC it is another door to, with exactly that RPC's rule", () => {
    const named = (route: keyof typeof httpRoutes) =>
      procedureName(httpRoutes[route].parent.typeName, httpRoutes[route].name);
    expect(named("uploadVideo")).toBe("avtech.content.v1.ContentService/UploadVideo");
    expect(methodPolicy(httpRoutes.uploadVideo)).toEqual(policyFor("avtech.content.v1.ContentService", "UploadVideo"));
    expect(methodPolicy(httpRoutes.uploadVideo)).toMatchObject({ public: false, minRole: "editor", mutating: true });
    for (const route of ["videoFile", "videoThumbnail"] as const) {
      expect(named(route)).toBe("avtech.content.v1.ContentService/GetVideo");
      expect(methodPolicy(httpRoutes[route])).toMatchObject({ public: false, minRole: "viewer", mutating: false });
    }
    expect(named("playReportCsv")).toBe("avtech.report.v1.ReportService/ExportPlayReport");
    expect(named("uptimeReportCsv")).toBe("avtech.report.v1.ReportService/ExportUptimeReport");
    for (const route of ["playReportCsv", "uptimeReportCsv"] as const) {
      expect(methodPolicy(httpRoutes[route])).toMatchObject({ public: false, minRole: "viewer", mutating: false });
    }
  });
});
