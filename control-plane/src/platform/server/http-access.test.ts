import { ContentService } from "@avtech/proto/gen/avtech/content/v1/content_pb.js";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import type { MikroORM } from "@mikro-orm/postgresql";
import { describe, expect, it } from "vitest";
import { type AuditEntry, type AuditNote, createAuditInterceptor, noteAudit } from "../audit/audit.ts";
import type { TokenResolver } from "../auth/access.ts";
import { createAuthenticateInterceptor, createAuthorizeInterceptor } from "../auth/interceptor.ts";
import { httpRoutes } from "../auth/policy.ts";
import type { Principal } from "../auth/principal.ts";
import { createHttpAccess } from "./http-access.ts";
import type { AnyRequest } from "./http-routes.ts";

const principal = (role: Principal["role"]): Principal => ({
  tenantId: "tenant-a",
  tenantName: "Acme",
  role,
  actorId: `${role}-id`,
  actorName: `${role} token`,
  kind: "api_token",
  apiTokenId: `${role}-id`,
});
const principals = new Map(["viewer", "editor", "admin"].map((r) => [r, principal(r as Principal["role"])]));
const tokens: TokenResolver = { resolve: async (secret) => principals.get(secret) };
// HttpAccess only forks the EntityManager for the scope; nothing here queries it.
const orm = { em: { fork: () => ({}) } } as unknown as MikroORM;

/** What a handler does, written once and run behind both doors. */
type Behaviour = (note: (note: Partial<AuditNote>) => void) => void;
const behaviours: Record<string, Behaviour> = {
  stores: (note) => {
    note({ subjectType: "video" });
    note({ subjectId: "video-1", after: { id: "video-1", name: "promo" } });
  },
  refuses: (note) => {
    note({ subjectType: "video" });
    throw new ConnectError("the file is not a video", Code.InvalidArgument);
  },
  crashes: (note) => {
    note({ subjectType: "video" });
    throw new Error("disk on fire");
  },
};

/** An audit entry with its error as the row stores it (code and raw message). */
function comparable(entry: AuditEntry) {
  const { error, ...rest } = entry;
  const failure = error === undefined ? undefined : ConnectError.from(error);
  return { ...rest, failure: failure && { code: failure.code, message: failure.rawMessage } };
}

function outcome(error: unknown) {
  if (error === undefined) return "ok";
  const failure = ConnectError.from(error);
  return { code: failure.code, message: failure.rawMessage };
}

/** UploadVideo through the RPC interceptors (in the server's order), with `behave` as its handler. */
async function viaRpc(authorization: string | undefined, behave: Behaviour) {
  const entries: AuditEntry[] = [];
  const transport = createRouterTransport(
    (router) =>
      router.service(ContentService, {
        async uploadVideo(requests, context) {
          for await (const _ of requests);
          behave((note) => noteAudit(context, note));
          return {};
        },
      }),
    {
      router: {
        interceptors: [
          createAuthenticateInterceptor(tokens),
          createAuditInterceptor({ record: async (entry) => void entries.push(entry) }),
          createAuthorizeInterceptor(),
        ],
      },
    },
  );
  const client = createClient(ContentService, transport);
  async function* none() {}
  const headers: Record<string, string> = authorization ? { authorization } : {};
  const error = await client.uploadVideo(none(), { headers }).then(
    () => undefined,
    (e: unknown) => e,
  );
  return { entries: entries.map(comparable), error };
}

/** POST /v1/videos's access: HttpAccess.run as UploadVideo, with `behave` as its work. */
async function viaHttp(authorization: string | undefined, behave: Behaviour) {
  const entries: AuditEntry[] = [];
  const access = createHttpAccess({ orm, tokens, audit: { record: async (entry) => void entries.push(entry) } });
  const req = { headers: authorization ? { authorization } : {} } as unknown as AnyRequest;
  const error = await access
    .run(req, httpRoutes.uploadVideo, async ({ note }) => behave(note))
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  return { entries: entries.map(comparable), error };
}

describe("HttpAccess", () => {
  const cases: Array<[string, string | undefined, keyof typeof behaviours]> = [
    ["no token", undefined, "stores"],
    ["another scheme", "Basic dXNlcjpwdw==", "stores"],
    ["an unknown token", "Bearer nobody", "stores"],
    ["a viewer (below UploadVideo's editor)", "Bearer viewer", "stores"],
    ["an editor whose upload is stored", "Bearer editor", "stores"],
    ["an editor whose upload is refused", "Bearer editor", "refuses"],
    ["an editor whose upload crashes", "Bearer editor", "crashes"],
    ["an admin", "Bearer admin", "stores"],
  ];

  it.each(cases)(
    "lets %s through or refuses it exactly as the RPC interceptors do, and audits it the same",
    async (_, authorization, behaviour) => {
      const rpc = await viaRpc(authorization, behaviours[behaviour] as Behaviour);
      const http = await viaHttp(authorization, behaviours[behaviour] as Behaviour);
      expect(http.entries).toEqual(rpc.entries);
      // The crash reaches the RPC client through the transport's own error mapping; compare refusals only.
      if (behaviour !== "crashes") expect(outcome(http.error)).toEqual(outcome(rpc.error));
    },
  );

  it("answers no token and an unknown one with UNAUTHENTICATED and audits neither (there is no actor)", async () => {
    for (const authorization of [undefined, "Bearer nobody"]) {
      const { entries, error } = await viaHttp(authorization, behaviours.stores as Behaviour);
      expect(ConnectError.from(error).code).toBe(Code.Unauthenticated);
      expect(entries).toEqual([]);
    }
  });

  it("refuses a viewer's upload with PERMISSION_DENIED and records it under UploadVideo with no subject yet", async () => {
    const { entries, error } = await viaHttp("Bearer viewer", behaviours.stores as Behaviour);
    expect(ConnectError.from(error)).toMatchObject({
      code: Code.PermissionDenied,
      rawMessage: "UploadVideo needs the editor role; the caller is viewer",
    });
    expect(entries).toEqual([
      {
        principal: principals.get("viewer"),
        action: "avtech.content.v1.ContentService/UploadVideo",
        note: { subjectType: "", subjectId: "" },
        failure: { code: Code.PermissionDenied, message: "UploadVideo needs the editor role; the caller is viewer" },
      },
    ]);
  });

  it("gives the work the caller and its tenant's scope, and audits nothing for a read", async () => {
    const entries: AuditEntry[] = [];
    const access = createHttpAccess({ orm, tokens, audit: { record: async (entry) => void entries.push(entry) } });
    const req = { headers: { authorization: "Bearer viewer" } } as unknown as AnyRequest;
    const seen = await access.run(req, httpRoutes.videoFile, async ({ principal, scope }) => ({
      actor: principal.actorId,
      tenant: scope.tenantId,
    }));
    expect(seen).toEqual({ actor: "viewer-id", tenant: "tenant-a" });
    expect(entries).toEqual([]);
  });
});
