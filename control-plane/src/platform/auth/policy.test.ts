import { describe, expect, it } from "vitest";
import { httpRoutes, methodPolicy, policyFor, procedureName } from "./policy.ts";

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

  it("keeps user management and the audit log to admins", () => {
    expect(policyFor("avtech.auth.v1.UserService", "ListUsers").minRole).toBe("admin");
    expect(policyFor("avtech.auth.v1.AuditService", "ListAuditEvents").minRole).toBe("admin");
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
      expect(policyFor("avtech.update.v1.UpdateService", method)).toEqual({
        public: false,
        minRole: "viewer",
        mutating: false,
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
      expect(policyFor("avtech.update.v1.UpdateService", method)).toEqual({
        public: false,
        minRole: "admin",
        mutating: true,
      });
    }
    expect(methodPolicy(httpRoutes.uploadRelease)).toEqual({ public: false, minRole: "admin", mutating: true });
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
  });
});
