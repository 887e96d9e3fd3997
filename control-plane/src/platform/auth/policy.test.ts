import { ReportService } from "@avtech/proto/gen/avtech/report/v1/report_pb.js";
import { describe, expect, it } from "vitest";
import { httpRoutes, methodPolicy, policyFor, procedureName, viewerReads } from "./policy.ts";

describe("policyFor", () => {
  it("lets anyone log in and probe health", () => {
    expect(policyFor("avtech.auth.v1.AuthService", "Login").public).toBe(true);
    expect(policyFor("grpc.health.v1.Health", "Check").public).toBe(true);
    expect(policyFor("avtech.device.v1.DeviceService", "Connect").public).toBe(true);
  });

  it("needs an editor for mutations and audits them", () => {
    expect(policyFor("avtech.content.v1.ContentService", "UploadVideo")).toEqual({
      public: false,
      minRole: "editor",
      mutating: true,
    });
  });

  it("lets viewers read without auditing", () => {
    expect(policyFor("avtech.content.v1.ContentService", "ListVideos")).toEqual({
      public: false,
      minRole: "viewer",
      mutating: false,
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
      expect(viewerReads.has(procedureName(ReportService.typeName, method.name)), method.name).toBe(true);
      expect(methodPolicy(method), method.name).toEqual({ public: false, minRole: "viewer", mutating: false });
    }
    // An RPC added to ReportService without a rule gets the safe default: an audited editor mutation.
    expect(policyFor("avtech.report.v1.ReportService", "ExportSomethingNew")).toEqual({
      public: false,
      minRole: "editor",
      mutating: true,
    });
  });

  it("keeps user management and the audit log to admins", () => {
    expect(policyFor("avtech.auth.v1.UserService", "ListUsers").minRole).toBe("admin");
    expect(policyFor("avtech.auth.v1.AuditService", "ListAuditEvents").minRole).toBe("admin");
  });

  it("declares each plain HTTP route as the RPC it is another door to, with exactly that RPC's rule", () => {
    const named = (route: keyof typeof httpRoutes) =>
      procedureName(httpRoutes[route].parent.typeName, httpRoutes[route].name);
    expect(named("uploadVideo")).toBe("avtech.content.v1.ContentService/UploadVideo");
    expect(methodPolicy(httpRoutes.uploadVideo)).toEqual(policyFor("avtech.content.v1.ContentService", "UploadVideo"));
    expect(methodPolicy(httpRoutes.uploadVideo)).toEqual({ public: false, minRole: "editor", mutating: true });
    for (const route of ["videoFile", "videoThumbnail"] as const) {
      expect(named(route)).toBe("avtech.content.v1.ContentService/GetVideo");
      expect(methodPolicy(httpRoutes[route])).toEqual({ public: false, minRole: "viewer", mutating: false });
    }
    expect(named("playReportCsv")).toBe("avtech.report.v1.ReportService/ExportPlayReport");
    expect(named("uptimeReportCsv")).toBe("avtech.report.v1.ReportService/ExportUptimeReport");
    for (const route of ["playReportCsv", "uptimeReportCsv"] as const) {
      expect(methodPolicy(httpRoutes[route])).toEqual({ public: false, minRole: "viewer", mutating: false });
    }
  });
});
