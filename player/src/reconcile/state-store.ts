import { type DesiredState, DesiredStateSchema } from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { readFileIfExists, writeFileAtomic } from "../storage/index.ts";

/** Result of reading the last good state. */
export type LoadedState = { type: "None" } | { type: "Found"; state: DesiredState } | { type: "Corrupt"; error: Error };

/**
 * The last good desired state on disk, as binary protobuf, replaced atomically. Written only
 * after every asset it references is present and verified, so booting from it never needs the
 * network.
 */
export class StateStore {
  readonly path: string;

  constructor(path: string) {
    this.path = path;
  }

  /** Reads the file. A corrupt file (impossible with atomic writes, but SD cards rot) is reported, not thrown. */
  async load(): Promise<LoadedState> {
    const bytes = await readFileIfExists(this.path);
    if (!bytes) return { type: "None" };
    try {
      const state = fromBinary(DesiredStateSchema, bytes);
      if (state.version === 0n) throw new Error("version 0");
      return { type: "Found", state };
    } catch (error) {
      return { type: "Corrupt", error: new Error(`${this.path}: unreadable last good state`, { cause: error }) };
    }
  }

  /** Replaces the file atomically. */
  async save(state: DesiredState): Promise<void> {
    await writeFileAtomic(this.path, toBinary(DesiredStateSchema, state));
  }
}
