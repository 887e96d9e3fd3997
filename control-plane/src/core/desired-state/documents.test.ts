import {
  DayOfWeek,
  DesiredStateSchema,
  DisplayHoursSchema,
  Orientation,
} from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import { OsUpdateSchema, RebootPolicy } from "@avtech/proto/gen/avtech/device/v1/update_pb.js";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { ruleRecord, samplePlaylists } from "../../../test/lib/desired-state-records.ts";
import {
  buildDesiredState,
  type DesiredStateSources,
  diffDesiredStates,
  type RuleRecord,
  type ScreenFacts,
  stampVersion,
} from "./build.ts";
import { DocumentDiffer, DocumentFactory, splitEncodedDocument } from "./documents.ts";

const playlists = samplePlaylists();
const rule = (id: string, fields: Partial<RuleRecord>) => ruleRecord(id, { daysOfWeek: [1, 2], ...fields });
const tenant: Omit<DesiredStateSources, "screen"> = {
  rules: [
    rule("r-group", { target: { kind: "group", groupId: "g-lobby" } }),
    rule("r-tag", { target: { kind: "tag", tag: "menu" }, playlistId: "p-menu", priority: 2 }),
  ],
  defaults: [{ target: { kind: "tenant" }, playlistId: "p-default" }],
  playlists,
  assetUrl: (sha256) => `/assets/${sha256}`,
};
const screen = (id: string, fields: Partial<ScreenFacts> = {}): ScreenFacts => ({
  id,
  name: `screen ${id}`,
  groupId: "",
  tags: [],
  timezone: "Europe/Madrid",
  volumePercent: 80,
  orientation: Orientation.LANDSCAPE,
  displayHours: [],
  ...fields,
});
const screens = [
  screen("s1", { groupId: "g-lobby" }),
  screen("s2", { groupId: "g-lobby", tags: ["menu"], volumePercent: 0 }),
  screen("s3", { tags: ["menu"], orientation: Orientation.PORTRAIT }),
  screen("s4"),
  screen("s5", {
    timezone: "America/New_York",
    displayHours: [
      create(DisplayHoursSchema, {
        daysOfWeek: [DayOfWeek.MONDAY, DayOfWeek.FRIDAY],
        window: { startMinute: 420, endMinute: 1320 },
      }),
    ],
  }),
];
const at = timestampFromDate(new Date("2026-11-23T12:00:00Z"));

describe("documents built per distinct content", () => {
  it("hash and encode exactly like buildDesiredState does per screen", () => {
    const factory = new DocumentFactory(tenant);
    for (const facts of screens) {
      const reference = buildDesiredState({ ...tenant, screen: facts });
      const built = factory.build(facts);
      expect(built.contentHash).toBe(reference.contentHash);
      const stamped = stampVersion(reference, 7n, at);
      expect(Buffer.from(built.encode(7n, at))).toEqual(Buffer.from(toBinary(DesiredStateSchema, stamped)));
      expect(toBinary(DesiredStateSchema, built.stamped(7n, at))).toEqual(toBinary(DesiredStateSchema, stamped));
    }
  });

  it("share one shared part between screens with the same rules and default", () => {
    const factory = new DocumentFactory(tenant);
    const [a, b] = [
      factory.build(screen("x1", { groupId: "g-lobby" })),
      factory.build(screen("x2", { groupId: "g-lobby" })),
    ];
    expect(a.sharedKey).toBe(b.sharedKey);
    expect(a.contentHash).not.toBe(b.contentHash);
    expect(factory.build(screen("x3")).sharedKey).not.toBe(a.sharedKey);
  });

  it("carry a screen's os_update in its hash and encoding, exactly as buildDesiredState does", () => {
    const osUpdate = create(OsUpdateSchema, {
      rolloutId: "ro-1",
      releaseId: "rel-1",
      version: "2026.12.1",
      compatible: "avtech-rpi4",
      bundle: { sha256: "ab".repeat(32), sizeBytes: 1234n, url: `/bundles/${"ab".repeat(32)}` },
      rebootPolicy: RebootPolicy.QUIET,
    });
    const factory = new DocumentFactory(tenant);
    for (const facts of screens) {
      const reference = buildDesiredState({ ...tenant, screen: facts, osUpdate });
      const built = factory.build(facts, osUpdate);
      expect(built.contentHash).toBe(reference.contentHash);
      expect(built.contentHash).not.toBe(factory.build(facts).contentHash);
      const encoded = built.encode(4n, at);
      expect(Buffer.from(encoded)).toEqual(Buffer.from(toBinary(DesiredStateSchema, stampVersion(reference, 4n, at))));
      expect(fromBinary(DesiredStateSchema, encoded).osUpdate?.version).toBe("2026.12.1");
      expect(Buffer.from(toBinary(DesiredStateSchema, built.stamped(4n, at)))).toEqual(Buffer.from(encoded));
    }
    // Adding or removing the update alone is a change of the document, not of its rules or assets.
    const differ = new DocumentDiffer(factory);
    const facts = screens[0] as ScreenFacts;
    const withUpdate = factory.build(facts, osUpdate);
    const diff = differ.diff(factory.build(facts).encode(1n, at), withUpdate);
    expect(diff).toMatchObject({ changed: true, rulesChanged: false, settingsChanged: false, addedAssetSha256s: [] });
    expect(differ.diff(withUpdate.encode(2n, at), factory.build(facts))).toMatchObject({
      rulesChanged: false,
      removedAssetSha256s: [],
    });
  });

  it("split a stored document into its screen settings and its shared part", () => {
    const built = new DocumentFactory(tenant).build(screens[1] as ScreenFacts);
    const split = splitEncodedDocument(built.encode(3n, at));
    expect(split && Buffer.from(split.settingsField)).toEqual(Buffer.from(built.settingsField));
    expect(split?.shared.length).toBeGreaterThan(0);
  });

  it("diff like diffDesiredStates, for first versions, rule changes and settings changes", () => {
    const before = new DocumentFactory(tenant);
    const afterTenant = { ...tenant, rules: [...tenant.rules, rule("r-all", { playlistId: "p-menu" })] };
    const after = new DocumentFactory(afterTenant);
    const differ = new DocumentDiffer(after);
    for (const facts of screens) {
      const renamed = { ...facts, name: facts.id === "s2" ? "renamed" : facts.name };
      const previous = before.build(facts).encode(1n, at);
      const next = after.build(renamed);
      const reference = buildDesiredState({ ...afterTenant, screen: renamed });
      const old = stampVersion(buildDesiredState({ ...tenant, screen: facts }), 1n, at);
      expect(differ.diff(previous, next)).toEqual(diffDesiredStates(old, reference));
      expect(differ.diff(undefined, next)).toEqual(diffDesiredStates(undefined, reference));
    }
  });
});
