import { rm } from "node:fs/promises";
import { dirname } from "node:path";
import { z } from "zod";
import { fsyncDir, readFileIfExists, writeFileAtomic } from "../storage/index.ts";

/** Why an update failed or was rolled back: device.v1 UpdateFailureReason without its prefix. */
export const failureReasons = [
  "DOWNLOAD_FAILED",
  "CHECKSUM_MISMATCH",
  "NO_SPACE",
  "SIGNATURE_INVALID",
  "INCOMPATIBLE",
  "INSTALL_FAILED",
  "NOT_HEALTHY",
  "UNSUPPORTED",
] as const;

/** A failure reason. */
export type FailureReason = (typeof failureReasons)[number];

/**
 * Where one update stands, as persisted. Each phase says what a restarted player does:
 * - `downloading`: fetch (resume) the bundle;
 * - `installing`: `rauc install` again (RAUC rewrites the inactive slot from the start);
 * - `rebooting`: installed into `targetSlot`; wait for the reboot moment, or find out after a boot
 *   whether the bootloader tried the new slot;
 * - `confirming`: booted `targetSlot` at least once; run the health gate while on it;
 * - `healthy`, `failed`, `rolled-back`: final for this rollout and version.
 */
export const updatePhases = [
  "downloading",
  "installing",
  "rebooting",
  "confirming",
  "healthy",
  "failed",
  "rolled-back",
] as const;

/** A phase of {@link UpdateRecord}. */
export type UpdatePhaseName = (typeof updatePhases)[number];

const recordSchema = z.object({
  /** Layout version of this file. */
  v: z.literal(1),
  rolloutId: z.string(),
  releaseId: z.string(),
  version: z.string(),
  compatible: z.string(),
  bundle: z.object({ sha256: z.string(), sizeBytes: z.number().int().nonnegative(), url: z.string() }),
  rebootPolicy: z.enum(["quiet", "now"]),
  phase: z.enum(updatePhases),
  /** For failed and rolled-back. */
  reason: z.enum(failureReasons).optional(),
  message: z.string().default(""),
  /** Bootname and image version the screen ran when the update started. */
  fromSlot: z.string(),
  fromVersion: z.string(),
  /** Bootname of the slot RAUC installed into (known from `rebooting` on). */
  targetSlot: z.string().default(""),
  /** `rauc install` runs started for this update (a crash during one counts). */
  installAttempts: z.number().int().nonnegative().default(0),
  /** Reboots this player asked for while the update was in `rebooting` or `confirming`. */
  rebootAttempts: z.number().int().nonnegative().default(0),
  /** Times the new slot was made the next boot again after a restart this player did not ask for. */
  activations: z.number().int().nonnegative().default(0),
  /** Boot id when the record entered its phase or last asked for a reboot: a different one means the machine restarted. */
  bootId: z.string(),
  /** When the health gate started on the current boot (ISO time; `confirming` only). */
  gateStartedAt: z.string().optional(),
  /** Download failures in a row (the retry backoff grows with it). */
  failures: z.number().int().nonnegative().default(0),
  /** A failed download is tried again from this time on (ISO time); absent for final failures. */
  retryAt: z.string().optional(),
  updatedAt: z.string(),
});

/** The persisted state of the update in progress (or the last one). */
export type UpdateRecord = z.infer<typeof recordSchema>;

/** Result of loading the record. */
export type LoadedRecord =
  | { type: "None" }
  | { type: "Found"; record: UpdateRecord }
  | { type: "Corrupt"; error: unknown };

/**
 * The update's state file (`<data_dir>/v1/update/update.json`): small JSON replaced atomically
 * (temp file, fsync, rename, fsync folder), so a power cut leaves the old or the new record.
 */
export class UpdateStore {
  readonly path: string;

  constructor(path: string) {
    this.path = path;
  }

  /** Reads the record; a file that does not parse is Corrupt (the caller starts over). */
  async load(): Promise<LoadedRecord> {
    const bytes = await readFileIfExists(this.path);
    if (!bytes) return { type: "None" };
    try {
      return { type: "Found", record: recordSchema.parse(JSON.parse(bytes.toString("utf8"))) };
    } catch (error) {
      return { type: "Corrupt", error };
    }
  }

  /** Replaces the record durably. */
  async save(record: UpdateRecord): Promise<void> {
    await writeFileAtomic(this.path, `${JSON.stringify(recordSchema.parse(record), null, 2)}\n`);
  }

  /** Deletes the record durably (an update abandoned before it installed). */
  async clear(): Promise<void> {
    await rm(this.path, { force: true });
    await fsyncDir(dirname(this.path));
  }
}
