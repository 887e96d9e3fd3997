import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { UpdateService } from "@avtech/proto/gen/avtech/update/v1/update_pb.js";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BundleFactory, createBundleFactory } from "../lib/rauc-bundles.ts";
import type { TestTenant } from "../lib/test-app.ts";
import { startUpdateApp, type UpdateApp } from "../lib/update-app.ts";

const maxBundleBytes = 512 * 1024;

/** UploadRelease messages for a file: metadata, then 64 KiB chunks. */
async function* releaseMessages(path: string, metadata: { notes?: string; sizeBytes?: bigint } = {}) {
  yield { part: { case: "metadata" as const, value: metadata } };
  const bytes = await readFile(path);
  for (let offset = 0; offset < bytes.length; offset += 64 * 1024) {
    yield { part: { case: "chunk" as const, value: bytes.subarray(offset, offset + 64 * 1024) } };
  }
}

async function sha256Of(path: string): Promise<string> {
  return createHash("sha256")
    .update(await readFile(path))
    .digest("hex");
}

// Over the Connect protocol (HTTP/1.1) and plain gRPC (h2c, the lean stream route): the same outcomes.
describe.each(["connect", "grpc"] as const)("UploadRelease over %s", (transport) => {
  let app: UpdateApp;
  let bundles: BundleFactory;
  let tenant: TestTenant;
  let other: TestTenant;

  beforeAll(async () => {
    bundles = await createBundleFactory();
    app = await startUpdateApp({
      update: { compatible: bundles.compatible, keyringPath: bundles.keyringPath },
      limits: { maxBundleBytes },
    });
    [tenant, other] = await Promise.all([app.createTenant("acme"), app.createTenant("globex")]);
  });
  afterAll(async () => {
    await app?.close();
    await bundles?.remove();
  });

  const updates = (token = tenant.tokens.admin) => app.client(UpdateService, token, transport);
  const releaseRows = async () =>
    Number((await app.query<{ n: string }>("select count(*) as n from update_releases"))[0]?.n);

  /** Runs `attempt`, expects `code` with a message matching `message`, and checks nothing was kept. */
  async function expectRefused(attempt: () => Promise<unknown>, code: Code, message: RegExp): Promise<void> {
    const rowsBefore = await releaseRows();
    const filesBefore = await app.blobFiles();
    const error = await attempt().then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(error, "the call must fail").toBeDefined();
    expect(Code[error?.code ?? Code.Unknown]).toBe(Code[code]);
    expect(error?.rawMessage).toMatch(message);
    expect(await releaseRows(), "no row").toBe(rowsBefore);
    expect(await app.blobFiles(), "no blob and no temp file").toEqual(filesBefore);
  }

  it("keeps a bundle signed by the fleet's CA for the fleet's compatible, with what its manifest says", async () => {
    const path = await bundles.bundle({ version: `2026.12.1-${transport}` });
    const { release } = await updates().uploadRelease(releaseMessages(path, { notes: "first OS release" }));
    expect(release).toMatchObject({
      version: `2026.12.1-${transport}`,
      compatible: bundles.compatible,
      sha256: await sha256Of(path),
      sizeBytes: BigInt((await stat(path)).size),
      signer: expect.stringMatching(/CN = AVTech Test Release Signer/),
      notes: "first OS release",
    });
    expect(await app.blobFiles()).toContain(
      `sha256/${release?.sha256.slice(0, 2)}/${release?.sha256.slice(2, 4)}/${release?.sha256}`,
    );
    const { releases } = await updates(tenant.tokens.viewer).listReleases({});
    expect(releases.map((r) => r.id)).toContain(release?.id);
    expect((await updates(tenant.tokens.viewer).getRelease({ releaseId: release?.id })).release?.version).toBe(
      release?.version,
    );
  });

  it("refuses a version the tenant already has with ALREADY_EXISTS, keeping nothing new", async () => {
    const version = `2026.12.2-${transport}`;
    await updates().uploadRelease(releaseMessages(await bundles.bundle({ version })));
    const again = await bundles.bundle({ version });
    await expectRefused(
      () => updates().uploadRelease(releaseMessages(again)),
      Code.AlreadyExists,
      new RegExp(`release ${version.replace(/\./g, "\\.")} already exists`),
    );
    // Another tenant has its own releases: the same version is new there.
    const { release } = await updates(other.tokens.admin).uploadRelease(releaseMessages(again));
    expect(release?.version).toBe(version);
  });

  it("refuses a bundle signed with a key outside the fleet's CA, naming the signature", async () => {
    for (const signer of ["self-signed", "other-ca"] as const) {
      const path = await bundles.bundle({ version: `2026.12.3-${signer}-${transport}`, signer });
      await expectRefused(
        () => updates().uploadRelease(releaseMessages(path)),
        Code.InvalidArgument,
        /signature does not verify against the fleet's keyring/,
      );
    }
  });

  it("refuses a bundle built for another compatible, naming both", async () => {
    const path = await bundles.bundle({ version: `2026.12.4-${transport}`, compatible: "someone-elses-board" });
    await expectRefused(
      () => updates().uploadRelease(releaseMessages(path)),
      Code.InvalidArgument,
      new RegExp(`compatible "someone-elses-board", but this fleet's screens are "${bundles.compatible}"`),
    );
  });

  it("refuses garbage and RAUC's plain format as not a bundle the screens can install", async () => {
    async function* metadataOnly() {
      yield { part: { case: "metadata" as const, value: {} } };
    }
    await expectRefused(() => updates().uploadRelease(metadataOnly()), Code.InvalidArgument, /contained no bytes/);
    const garbage = await bundles.garbage(100_000);
    await expectRefused(
      () => updates().uploadRelease(releaseMessages(garbage)),
      Code.InvalidArgument,
      /not a RAUC bundle the screens can install \(Invalid bundle format/,
    );
    const plain = await bundles.bundle({ version: `2026.12.5-${transport}`, format: "plain" });
    await expectRefused(
      () => updates().uploadRelease(releaseMessages(plain)),
      Code.InvalidArgument,
      /plain format; build it with `\[bundle\] format=verity`/,
    );
  });

  it("refuses an upload over limits.maxBundleBytes, declared or streamed", async () => {
    const big = await bundles.garbage(maxBundleBytes + 1);
    await expectRefused(
      () => updates().uploadRelease(releaseMessages(big, { sizeBytes: BigInt(maxBundleBytes + 1) })),
      Code.ResourceExhausted,
      /limit is 512\.0 KiB|limit is 524288 bytes|limits\.maxBundleBytes/,
    );
    await expectRefused(
      () => updates().uploadRelease(releaseMessages(big)),
      Code.ResourceExhausted,
      /larger than the limit .*limits\.maxBundleBytes/,
    );
  });

  it("lets only admins upload, and audits refusals and uploads alike", async () => {
    const path = await bundles.bundle({ version: `2026.12.6-${transport}` });
    for (const token of [tenant.tokens.editor, tenant.tokens.viewer]) {
      await expectRefused(() => updates(token).uploadRelease(releaseMessages(path)), Code.PermissionDenied, /admin/);
    }
    const audited = await app.query<{ result: string; subject_type: string }>(
      `select result, subject_type from audit_events where action = 'avtech.update.v1.UpdateService/UploadRelease'
        and tenant_id = $1`,
      [tenant.id],
    );
    expect(audited.filter((row) => row.result === "permission_denied").length).toBeGreaterThanOrEqual(2);
    expect(audited.some((row) => row.result === "ok" && row.subject_type === "release")).toBe(true);
    expect(audited.some((row) => row.result === "invalid_argument")).toBe(true);
  });

  it("deletes a release and its bundle, and treats another tenant's release as missing", async () => {
    const path = await bundles.bundle({ version: `2026.12.7-${transport}` });
    const { release } = await updates().uploadRelease(releaseMessages(path));
    const releaseId = release?.id ?? "";
    for (const call of [
      () => updates(other.tokens.admin).getRelease({ releaseId }),
      () => updates(other.tokens.admin).deleteRelease({ releaseId }),
    ]) {
      await expect(call()).rejects.toMatchObject({
        code: Code.NotFound,
        rawMessage: `no release ${releaseId} in your tenant`,
      });
    }
    await expect(updates(tenant.tokens.editor).deleteRelease({ releaseId })).rejects.toMatchObject({
      code: Code.PermissionDenied,
    });
    await updates().deleteRelease({ releaseId });
    expect(await app.blobFiles()).not.toContain(
      `sha256/${release?.sha256.slice(0, 2)}/${release?.sha256.slice(2, 4)}/${release?.sha256}`,
    );
    await expect(updates().getRelease({ releaseId })).rejects.toMatchObject({ code: Code.NotFound });
    expect((await updates().listReleases({})).releases.map((r) => r.id)).not.toContain(releaseId);
    // The version is free again.
    const { release: again } = await updates().uploadRelease(releaseMessages(path));
    expect(again?.version).toBe(release?.version);
  });
});

describe("UploadRelease on a control plane without a keyring", () => {
  it("refuses every bundle with FAILED_PRECONDITION naming the settings to make", async () => {
    const bundles = await createBundleFactory();
    const app = await startUpdateApp();
    try {
      const tenant = await app.createTenant("acme");
      const path = await bundles.bundle({ version: "1.0.0" });
      const error = await app
        .client(UpdateService, tenant.tokens.admin)
        .uploadRelease(releaseMessages(path))
        .catch((e: unknown) => ConnectError.from(e));
      expect(error).toBeInstanceOf(ConnectError);
      expect((error as ConnectError).code).toBe(Code.FailedPrecondition);
      expect((error as ConnectError).rawMessage).toMatch(
        /update\.compatible \(AVTECH_UPDATE_COMPATIBLE\) and update\.keyringPath \(AVTECH_UPDATE_KEYRING\)/,
      );
      expect(await app.blobFiles()).toEqual([]);
    } finally {
      await app.close();
      await bundles.remove();
    }
  });
});

describe("POST /v1/releases (the console's upload)", () => {
  let app: UpdateApp;
  let bundles: BundleFactory;
  let tenant: TestTenant;

  beforeAll(async () => {
    bundles = await createBundleFactory();
    app = await startUpdateApp({ update: { compatible: bundles.compatible, keyringPath: bundles.keyringPath } });
    tenant = await app.createTenant("acme");
  });
  afterAll(async () => {
    await app?.close();
    await bundles?.remove();
  });

  const post = async (path: string, token: string, notes?: string) =>
    fetch(`${app.addresses.http1Url}/v1/releases`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${token}`,
        "content-type": "application/octet-stream",
        ...(notes === undefined ? {} : { "x-release-notes": encodeURIComponent(notes) }),
      },
      body: await readFile(path),
    });

  it("stores a bundle sent as the raw body and answers UploadReleaseResponse's JSON", async () => {
    const path = await bundles.bundle({ version: "2027.1.0" });
    const response = await post(path, tenant.tokens.admin, "Grüße: new kernel");
    expect(response.status).toBe(200);
    const body = (await response.json()) as { release: { version: string; sha256: string; notes: string } };
    expect(body.release).toMatchObject({
      version: "2027.1.0",
      sha256: await sha256Of(path),
      notes: "Grüße: new kernel",
    });
    const rows = await app.query<{ result: string }>(
      "select result from audit_events where action = 'avtech.update.v1.UpdateService/UploadRelease' and tenant_id = $1",
      [tenant.id],
    );
    expect(rows.map((row) => row.result)).toEqual(["ok"]);
  });

  it("answers a refused bundle with the Connect error JSON and its HTTP status", async () => {
    const response = await post(
      await bundles.bundle({ version: "2027.1.1", signer: "self-signed" }),
      tenant.tokens.admin,
    );
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      code: "invalid_argument",
      message: expect.stringMatching(/signature does not verify/),
    });
    const forbidden = await post(await bundles.bundle({ version: "2027.1.2" }), tenant.tokens.editor);
    expect(forbidden.status).toBe(403);
    const anonymous = await fetch(`${app.addresses.http1Url}/v1/releases`, { method: "POST", body: "x" });
    expect(anonymous.status).toBe(401);
  });
});
