import { createHash } from "node:crypto";
import {
  type DesiredState,
  DesiredStateSchema,
  ScreenSettingsSchema,
} from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import type { OsUpdate } from "@avtech/proto/gen/avtech/device/v1/update_pb.js";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import {
  type DesiredStateDiff,
  type DesiredStateSources,
  diffDesiredStates,
  type ScreenFacts,
  selectFor,
  sharedContent,
} from "./build.ts";

/**
 * Field numbers 1..5 of DesiredState (screen_id, version, content_hash, generated_at, settings)
 * belong to one screen; 6..9 (rules, playlists, default_playlist_id, assets) are what screens
 * with the same rules and defaults share; 10 (os_update) is the screen's own again (a rollout
 * offers it screen by screen). protobuf-es writes fields in field-number order, so a document's
 * encoding is exactly `encode(fields 1..5) ‖ encode(fields 6..9) ‖ encode(field 10)` and the
 * shared middle can be encoded once for all screens that have it.
 */
const lastScreenField = 5;

/** One screen's document, built by {@link DocumentFactory}; equal to what buildDesiredState builds. */
export interface BuiltDocument {
  screenId: string;
  /** Same value as contentHash(buildDesiredState(...)) for this screen. */
  contentHash: string;
  /** The screen's settings (field 5) as encoded, for comparing with a stored document. */
  readonly settingsField: Uint8Array;
  /** Key of the shared part: screens with equal keys have equal rules, playlists and assets. */
  readonly sharedKey: string;
  /** The message with version and generated_at set (shares the shared part's arrays: do not mutate). */
  stamped(version: bigint, generatedAt: Timestamp | undefined): DesiredState;
  /** The binary encoding of {@link stamped}, without encoding the shared part again. */
  encode(version: bigint, generatedAt: Timestamp): Uint8Array;
}

interface SharedPart {
  key: string;
  message: DesiredState;
  bytes: Uint8Array;
}

/**
 * Builds the documents of many screens of one tenant for one publish. The expensive parts (rule
 * selection result, playlists, asset manifest, their encoding) are built once per distinct
 * combination of rules and default playlist, not once per screen; per screen only the settings
 * and the hash are computed.
 */
export class DocumentFactory {
  readonly #sources: Omit<DesiredStateSources, "screen">;
  readonly #shared = new Map<string, SharedPart>();

  constructor(sources: Omit<DesiredStateSources, "screen">) {
    this.#sources = sources;
  }

  /**
   * The document of `screen` (unversioned; stamp it with {@link BuiltDocument.stamped}/`encode`),
   * asking it to install `osUpdate` when one is given.
   */
  build(screen: ScreenFacts, osUpdate?: OsUpdate): BuiltDocument {
    const shared = this.#sharedFor(screen);
    const settings = create(ScreenSettingsSchema, {
      timezone: screen.timezone,
      volumePercent: screen.volumePercent,
      orientation: screen.orientation,
      displayHours: [...screen.displayHours],
      screenName: screen.name,
    });
    const settingsField = toBinary(DesiredStateSchema, create(DesiredStateSchema, { settings }));
    const idField = toBinary(DesiredStateSchema, create(DesiredStateSchema, { screenId: screen.id }));
    const tail = osUpdate ? toBinary(DesiredStateSchema, create(DesiredStateSchema, { osUpdate })) : new Uint8Array();
    const contentHash = createHash("sha256")
      .update(idField)
      .update(settingsField)
      .update(shared.bytes)
      .update(tail)
      .digest("hex");
    const head = (version: bigint, generatedAt: Timestamp | undefined): DesiredState => ({
      ...shared.message,
      screenId: screen.id,
      version,
      contentHash,
      generatedAt,
      settings,
      osUpdate,
    });
    return {
      screenId: screen.id,
      contentHash,
      settingsField,
      sharedKey: shared.key,
      stamped: head,
      encode: (version, generatedAt) => {
        const screenPart = toBinary(
          DesiredStateSchema,
          create(DesiredStateSchema, { screenId: screen.id, version, contentHash, generatedAt, settings }),
        );
        return Buffer.concat([screenPart, shared.bytes, tail]);
      },
    };
  }

  /** The shared part a built document refers to by {@link BuiltDocument.sharedKey}. */
  sharedMessage(key: string): DesiredState | undefined {
    return this.#shared.get(key)?.message;
  }

  #sharedFor(screen: ScreenFacts): SharedPart {
    const selection = selectFor({ ...this.#sources, screen });
    const key = `${selection.rules.map((rule) => rule.id).join(",")}|${selection.defaultPlaylistId}`;
    const known = this.#shared.get(key);
    if (known) return known;
    const message = create(DesiredStateSchema, sharedContent(selection, this.#sources));
    const part = { key, message, bytes: toBinary(DesiredStateSchema, message) };
    this.#shared.set(key, part);
    return part;
  }
}

/** A stored document cut into its screen part (fields 1..5) and the rest (6..10) without decoding it. */
export interface SplitDocument {
  /** The encoded settings field (tag included), empty when absent. */
  settingsField: Uint8Array;
  /**
   * Everything after the settings: the shared part and, when set, os_update (field 10), a valid
   * DesiredState encoding on its own. os_update is left in rather than cut off (that would mean
   * walking every rule and asset of every screen's document): the diff reads only rules,
   * playlists and assets from it, and a rollout offers the same os_update to all its screens, so
   * the diff's memo still sees few distinct tails.
   */
  shared: Uint8Array;
}

/**
 * Splits an encoded DesiredState as {@link DocumentFactory} writes it. Returns undefined for an
 * encoding whose fields are not in number order (not written by protobuf-es); decode it instead.
 */
export function splitEncodedDocument(bytes: Uint8Array): SplitDocument | undefined {
  const reader = new BinaryReader(bytes);
  let settingsField: Uint8Array = new Uint8Array();
  let lastField = 0;
  while (reader.pos < reader.len) {
    const start = reader.pos;
    const [fieldNo, wireType] = reader.tag();
    if (fieldNo < lastField) return undefined;
    lastField = fieldNo;
    if (fieldNo > lastScreenField) return { settingsField, shared: bytes.subarray(start) };
    reader.skip(wireType, fieldNo);
    if (fieldNo === lastScreenField) settingsField = bytes.subarray(start, reader.pos);
  }
  return { settingsField, shared: new Uint8Array() };
}

/**
 * Diffs many screens' previous documents (as stored, encoded) against their new ones, decoding
 * and comparing each distinct (previous shared part, new shared part) pair once.
 */
export class DocumentDiffer {
  readonly #factory: DocumentFactory;
  readonly #memo = new Map<string, Omit<DesiredStateDiff, "settingsChanged" | "changed">>();

  constructor(factory: DocumentFactory) {
    this.#factory = factory;
  }

  /** What changes from `previous` (encoded; undefined for a first version) to `next`. */
  diff(previous: Uint8Array | undefined, next: BuiltDocument): DesiredStateDiff {
    const nextShared = this.#factory.sharedMessage(next.sharedKey);
    if (!nextShared) throw new Error(`document of screen ${next.screenId} was not built by this factory`);
    const split = previous ? splitEncodedDocument(previous) : undefined;
    if (previous && !split) {
      const decoded = fromBinary(DesiredStateSchema, previous);
      return diffDesiredStates(decoded, next.stamped(0n, undefined));
    }
    const previousShared = split?.shared ?? new Uint8Array();
    const memoKey = `${Buffer.from(previousShared.buffer, previousShared.byteOffset, previousShared.byteLength).toString("latin1")}\n${next.sharedKey}`;
    let sharedDiff = this.#memo.get(memoKey);
    if (!sharedDiff) {
      const before = previous ? fromBinary(DesiredStateSchema, previousShared) : undefined;
      const { addedAssetSha256s, removedAssetSha256s, rulesChanged } = diffDesiredStates(before, nextShared);
      sharedDiff = { addedAssetSha256s, removedAssetSha256s, rulesChanged };
      this.#memo.set(memoKey, sharedDiff);
    }
    const settingsChanged = !previous || !sameBytes(split?.settingsField ?? new Uint8Array(), next.settingsField);
    return {
      changed: true,
      addedAssetSha256s: [...sharedDiff.addedAssetSha256s],
      removedAssetSha256s: [...sharedDiff.removedAssetSha256s],
      rulesChanged: sharedDiff.rulesChanged,
      settingsChanged,
    };
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}
