import type { ServerResponse } from "node:http";
import {
  type UploadReleaseRequest,
  UploadReleaseRequestSchema,
  UploadReleaseResponseSchema,
} from "@avtech/proto/gen/avtech/update/v1/update_pb.js";
import { create, toJson } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Logger } from "pino";
import { sendError } from "../../core/content/index.ts";
import { httpRoutes } from "../../platform/auth/policy.ts";
import type { HttpAccess } from "../../platform/server/http-access.ts";
import type { AnyRequest, AnyResponse, HttpRoute } from "../../platform/server/http-routes.ts";
import { type BlobReader, createScreenBlobHandler } from "../asset-http/index.ts";
import type { ScreenStore } from "../fleet/ports.ts";
import { bundlePathPrefix } from "./bundle-url.ts";
import type { UpdateStore } from "./ports.ts";
import { ingestRelease, type ReleaseIngestDeps } from "./release-ingest.ts";
import { releaseToProto } from "./service.ts";

/** What `POST /v1/releases` needs. */
export interface ReleaseUploadRouteDeps {
  ingest: ReleaseIngestDeps;
  /** Authentication, role check, tenant and audit: the RPC interceptors' steps, as UploadRelease. */
  access: HttpAccess;
  logger: Logger;
}

function uploadNotes(req: AnyRequest): string {
  try {
    return decodeURIComponent(String(req.headers["x-release-notes"] ?? ""));
  } catch {
    throw new ConnectError("x-release-notes must be URI-encoded (encodeURIComponent)", Code.InvalidArgument);
  }
}

/** The raw body as UploadRelease messages: metadata from the headers, then the body's chunks. */
async function* uploadMessages(req: AnyRequest, notes: string): AsyncIterable<UploadReleaseRequest> {
  const length = req.headers["content-length"];
  if (length !== undefined && !/^\d+$/.test(String(length))) {
    throw new ConnectError("content-length must be the body's size in bytes", Code.InvalidArgument);
  }
  yield create(UploadReleaseRequestSchema, {
    part: { case: "metadata", value: { sizeBytes: BigInt(length ?? 0), notes } },
  });
  for await (const chunk of req as AsyncIterable<Buffer>) {
    yield create(UploadReleaseRequestSchema, { part: { case: "chunk", value: chunk } });
  }
}

/**
 * POST /v1/releases: one bundle as the raw request body (a browser cannot send UploadRelease's
 * client stream), release notes in the optional `x-release-notes` header (URI-encoded). Runs as
 * UploadRelease (admin role, its audit row) through the very same ingest, and answers the
 * protobuf JSON of UploadReleaseResponse or a Connect error JSON with the code's HTTP status.
 */
export function createReleaseUploadRoute(deps: ReleaseUploadRouteDeps): HttpRoute {
  return async (req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    if (path !== "/v1/releases" || req.method !== "POST") return false;
    try {
      const release = await deps.access.run(req, httpRoutes.uploadRelease, async ({ principal, note }) => {
        note({ subjectType: "release" });
        const stored = await ingestRelease(deps.ingest, principal, uploadMessages(req, uploadNotes(req)));
        note({ subjectId: stored.id, after: { version: stored.version, sha256: stored.sha256 } });
        return stored;
      });
      const body = toJson(
        UploadReleaseResponseSchema,
        create(UploadReleaseResponseSchema, { release: releaseToProto(release) }),
      );
      (res as ServerResponse).writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
      res.end(JSON.stringify(body));
    } catch (error) {
      let failure = ConnectError.from(error);
      if (failure.code === Code.Internal || failure.code === Code.Unknown) {
        deps.logger.error({ err: error }, "release upload over HTTP failed");
        failure = new ConnectError("the upload failed on the server; try again", failure.code);
      }
      sendError(req, res, failure);
    }
    return true;
  };
}

/** What the bundle route needs. */
export interface BundleRouteDeps {
  blobs: BlobReader;
  screens: Pick<ScreenStore, "findByTokenHash">;
  store: Pick<UpdateStore, "screenMayFetchBundle">;
  logger: Logger;
}

/**
 * GET/HEAD /bundles/<sha256> for screens, served like /assets (device token, Range, If-Range,
 * ETag): a screen may fetch only the bundle of a release that a rollout it is in installs (any
 * other answers 404, as a missing one does), and none of a deleted release.
 */
export function createBundleRoute(deps: BundleRouteDeps): (req: AnyRequest, res: AnyResponse) => boolean {
  return createScreenBlobHandler({
    prefix: bundlePathPrefix,
    what: "bundle",
    blobs: deps.blobs,
    screens: deps.screens,
    mayRead: (screen, sha256) => deps.store.screenMayFetchBundle(screen.id, sha256),
    logger: deps.logger,
  });
}
