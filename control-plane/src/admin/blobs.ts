import { createHash } from "node:crypto";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import type { MikroORM } from "@mikro-orm/postgresql";
import type { BlobStore } from "../core/content/index.ts";

/** A blob a row names that is absent, the wrong size, or (with `verify`) the wrong content. */
export interface BlobProblem {
  sha256: string;
  /** A clip ("video"), its thumbnail, or an OS update bundle ("bundle", a row of update_releases). */
  role: "video" | "thumbnail" | "bundle";
  /** The video's or the release's id. */
  rowId: string;
  tenantId: string;
  problem: "missing" | "wrong-size" | "wrong-sha256";
  detail: string;
}

/** What {@link checkBlobs} found. */
export interface BlobReport {
  /** Distinct blobs the rows name (clips, thumbnails, OS update bundles). */
  referenced: number;
  referencedBytes: number;
  problems: BlobProblem[];
  /** Files under `<blobDir>/sha256` that no row names: harmless (a restore brings them, a crash leaves them). */
  unreferenced: number;
  unreferencedBytes: number;
  /** True when every referenced blob's content was hashed. */
  verified: boolean;
}

interface BlobRow {
  id: string;
  tenant_id: string;
  sha256: string;
  size_bytes: string;
  thumbnail_sha256: string | null;
}

/**
 * Checks the blob store against the database: every clip and thumbnail a video row names, and every
 * OS update bundle a release row names, must be in `<blobDir>/sha256/ab/cd/<sha256>` with the row's
 * size (and, with `verify`, hash to its name, which reads every byte). Files no row names are counted, not treated as problems: the
 * store is content-addressed, so such a file is never served and costs only disk space. Run after
 * a restore and when a screen reports ASSET_NOT_FOUND or CHECKSUM_MISMATCH.
 */
export async function checkBlobs(deps: {
  orm: MikroORM;
  blobs: BlobStore;
  blobDir: string;
  verify: boolean;
}): Promise<BlobReport> {
  const connection = deps.orm.em.getConnection();
  const videos = await connection.execute<BlobRow[]>(
    "select id, tenant_id, sha256, size_bytes, thumbnail_sha256 from videos order by sha256",
  );
  // Deleted releases keep their row (rollouts name them) but give up their bundle.
  const bundles = await connection.execute<BlobRow[]>(
    "select id, tenant_id, sha256, size_bytes, null as thumbnail_sha256 from update_releases where deleted_at is null order by sha256",
  );
  const wanted = new Map<string, { role: BlobProblem["role"]; size: number | undefined; row: BlobRow }>();
  for (const row of videos) {
    wanted.set(row.sha256, { role: "video", size: Number(row.size_bytes), row });
    if (row.thumbnail_sha256 && !wanted.has(row.thumbnail_sha256)) {
      wanted.set(row.thumbnail_sha256, { role: "thumbnail", size: undefined, row });
    }
  }
  for (const row of bundles) {
    if (!wanted.has(row.sha256)) wanted.set(row.sha256, { role: "bundle", size: Number(row.size_bytes), row });
  }
  const problems: BlobProblem[] = [];
  let referencedBytes = 0;
  for (const [sha256, { role, size, row }] of wanted) {
    const problem = (kind: BlobProblem["problem"], detail: string) =>
      problems.push({ sha256, role, rowId: row.id, tenantId: row.tenant_id, problem: kind, detail });
    const actual = await deps.blobs.size(sha256);
    if (actual === undefined) {
      problem(
        "missing",
        role === "bundle" ? `no file for release ${row.id}` : `no file for the ${role} of video ${row.id}`,
      );
      continue;
    }
    referencedBytes += actual;
    if (size !== undefined && actual !== size) {
      problem("wrong-size", `${actual} bytes on disk, the row says ${size}`);
      continue;
    }
    if (deps.verify) {
      const digest = await sha256Of(await deps.blobs.open(sha256));
      if (digest !== sha256) problem("wrong-sha256", `the file hashes to ${digest}`);
    }
  }
  let unreferenced = 0;
  let unreferencedBytes = 0;
  for (const file of await blobFiles(join(deps.blobDir, "sha256"))) {
    if (wanted.has(file.name)) continue;
    unreferenced++;
    unreferencedBytes += file.size;
  }
  return {
    referenced: wanted.size,
    referencedBytes,
    problems,
    unreferenced,
    unreferencedBytes,
    verified: deps.verify,
  };
}

async function sha256Of(stream: NodeJS.ReadableStream): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** The files of the store's `sha256/ab/cd/` tree (an absent tree is an empty store). */
async function blobFiles(root: string): Promise<Array<{ name: string; size: number }>> {
  const files: Array<{ name: string; size: number }> = [];
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(
    (error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return [];
      throw error;
    },
  );
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files.push({ name: entry.name, size: (await stat(path)).size });
  }
  return files;
}
