import { AuditService } from "@avtech/proto/gen/avtech/auth/v1/audit_pb.js";
import { AuthService, Role } from "@avtech/proto/gen/avtech/auth/v1/auth_pb.js";
import { UserService } from "@avtech/proto/gen/avtech/auth/v1/user_pb.js";
import { ContentService } from "@avtech/proto/gen/avtech/content/v1/content_pb.js";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AdminCommandError, createAdminCommands } from "../../src/admin/index.ts";
import { startTestApp, type TestApp, type TestTenant } from "../lib/test-app.ts";

describe("people, sessions and tokens", () => {
  let app: TestApp;
  let tenant: TestTenant;
  const password = "a long enough password";

  beforeAll(async () => {
    app = await startTestApp();
    tenant = await app.createTenant("acme");
    await createAdminCommands(app.db.orm, { storageBytes: 1e9, screens: 10 }).createUser({
      tenant: "acme",
      email: "Ada@Example.com",
      password,
      role: "admin",
      displayName: "Ada",
    });
  });
  afterAll(async () => {
    await app?.close();
  });

  it("logs in with scrypt, answers WhoAmI with the session and revokes it on logout", async () => {
    const login = await app.client(AuthService).login({ tenant: "acme", email: "ada@example.com", password });
    expect(login.sessionToken).toMatch(/^avs_/);
    expect(login.principal).toMatchObject({ email: "ada@example.com", role: Role.ADMIN, tenantId: tenant.id });
    const auth = app.client(AuthService, login.sessionToken);
    expect((await auth.whoAmI({})).principal?.displayName).toBe("Ada");
    await auth.logout({});
    await expect(auth.whoAmI({})).rejects.toMatchObject({ code: Code.Unauthenticated });
  });

  it("answers a wrong password, email or tenant the same way", async () => {
    const auth = app.client(AuthService);
    const attempts = [
      { tenant: "acme", email: "ada@example.com", password: "wrong password!" },
      { tenant: "acme", email: "bob@example.com", password },
      { tenant: "nope", email: "ada@example.com", password },
    ];
    for (const attempt of attempts) {
      await expect(auth.login(attempt)).rejects.toMatchObject({
        code: Code.Unauthenticated,
        rawMessage: "wrong tenant, email or password",
      });
    }
  });

  it("lets an admin manage users, refuses duplicates and short passwords, and audits it", async () => {
    const users = app.client(UserService, tenant.tokens.admin);
    const { user } = await users.createUser({
      email: "ed@example.com",
      displayName: "Ed",
      role: Role.EDITOR,
      password,
    });
    expect(user).toMatchObject({ email: "ed@example.com", role: Role.EDITOR, disabled: false });
    await expect(
      users.createUser({ email: "ED@example.com", displayName: "Ed", role: Role.EDITOR, password }),
    ).rejects.toMatchObject({ code: Code.AlreadyExists });
    await expect(
      users.createUser({ email: "x@example.com", displayName: "X", role: Role.VIEWER, password: "short" }),
    ).rejects.toMatchObject({ code: Code.InvalidArgument, rawMessage: expect.stringMatching(/at least 12/) });

    const session = (await app.client(AuthService).login({ tenant: "acme", email: "ed@example.com", password }))
      .sessionToken;
    await users.updateUser({ id: user?.id ?? "", disabled: true });
    await expect(app.client(AuthService, session).whoAmI({})).rejects.toMatchObject({ code: Code.Unauthenticated });

    const { events } = await app.client(AuditService, tenant.tokens.admin).listAuditEvents({ subjectId: user?.id });
    expect(events.map((e) => [e.action.split("/")[1], e.result])).toEqual([
      ["UpdateUser", "ok"],
      ["CreateUser", "ok"],
    ]);
    expect(JSON.parse(events[0]?.beforeJson ?? "{}")).toMatchObject({ disabled: false });
    expect(JSON.parse(events[0]?.afterJson ?? "{}")).toMatchObject({ disabled: true });
  });

  it("keeps user management to admins", async () => {
    await expect(app.client(UserService, tenant.tokens.editor).listUsers({})).rejects.toMatchObject({
      code: Code.PermissionDenied,
    });
  });

  it("issues API tokens once, never above the caller's role, and revokes them", async () => {
    const users = app.client(UserService, tenant.tokens.admin);
    const created = await users.createApiToken({ name: "ci", role: Role.EDITOR });
    expect(created.secret).toMatch(/^avt_/);
    const content = app.client(ContentService, created.secret);
    expect((await content.getStorageUsage({})).videoCount).toBe(0);
    const listed = await users.listApiTokens({});
    expect(
      JSON.stringify(
        listed.tokens.map((t) => ({ ...t })),
        (_k, v) => (typeof v === "bigint" ? String(v) : v),
      ),
    ).not.toContain(created.secret);
    await users.revokeApiToken({ id: created.token?.id ?? "" });
    await expect(content.getStorageUsage({})).rejects.toMatchObject({ code: Code.Unauthenticated });
  });

  it("refuses a token from another tenant for this tenant's objects", async () => {
    const other = await app.createTenant("globex");
    const mine = await app.client(UserService, tenant.tokens.admin).listUsers({});
    const target = mine.users[0]?.id ?? "";
    await expect(
      app.client(UserService, other.tokens.admin).updateUser({ id: target, displayName: "x" }),
    ).rejects.toMatchObject({ code: Code.NotFound });
    expect((await app.client(UserService, other.tokens.admin).listUsers({})).users).toEqual([]);
  });

  it("admin commands explain bad input", async () => {
    const admin = createAdminCommands(app.db.orm, { storageBytes: 1e9, screens: 10 });
    await expect(admin.createTenant({ slug: "Bad Slug" })).rejects.toThrow(AdminCommandError);
    await expect(admin.createTenant({ slug: "acme" })).rejects.toThrow(/already exists/);
    await expect(admin.createUser({ tenant: "missing", email: "a@b.c", password, role: "admin" })).rejects.toThrow(
      /no tenant with slug "missing"/,
    );
  });
});
