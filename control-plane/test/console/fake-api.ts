import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize } from "node:path";
import { crc32, deflateSync } from "node:zlib";
import { AsyncQueue } from "@avtech/io";
import { AlertService } from "@avtech/proto/gen/avtech/alert/v1/alert_pb.js";
import { AuthService, type Principal, PrincipalSchema, Role } from "@avtech/proto/gen/avtech/auth/v1/auth_pb.js";
import {
  type ApiToken,
  ApiTokenSchema,
  type User,
  UserSchema,
  UserService,
} from "@avtech/proto/gen/avtech/auth/v1/user_pb.js";
import {
  ContentService,
  UploadVideoResponseSchema,
  type Video,
  VideoSchema,
} from "@avtech/proto/gen/avtech/content/v1/content_pb.js";
import { CommandKind, CommandStatus } from "@avtech/proto/gen/avtech/device/v1/command_pb.js";
import { PlaybackState } from "@avtech/proto/gen/avtech/device/v1/health_pb.js";
import {
  type CommandRecord,
  CommandRecordSchema,
  ConnectionState,
  FleetService,
  type Screen,
  ScreenSchema,
  type WatchFleetResponse,
  WatchFleetResponseSchema,
} from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { PublishService, SyncStatus } from "@avtech/proto/gen/avtech/publish/v1/publish_pb.js";
import {
  type DefaultPlaylist,
  DefaultPlaylistSchema,
  type Playlist,
  PlaylistSchema,
  type Rule,
  RuleSchema,
  ScheduleService,
} from "@avtech/proto/gen/avtech/schedule/v1/schedule_pb.js";
import { UpdateService } from "@avtech/proto/gen/avtech/update/v1/update_pb.js";
import { clone, create, toJson } from "@bufbuild/protobuf";
import { timestampFromDate, timestampNow } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import { codeToHttpStatus, errorToJson } from "@connectrpc/connect/protocol-connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";

/**
 * A stand-in control plane for the console's browser tests and benchmark: the RPCs the console
 * calls, over gRPC-Web on HTTP/1.1 port 0, with deterministic in-memory data, plus the built
 * console and the plain-HTTP endpoints the console needs (upload, video file, thumbnail). It checks
 * session tokens and roles like the real server, so the viewer tests prove the server refuses.
 */
export interface FakeApi {
  /** http://127.0.0.1:<port> */
  url: string;
  /** Pushes `perSecond` health upserts per second to every WatchFleet stream until stopped. */
  streamHealth(perSecond: number): () => void;
  /** Upserts sent so far by {@link streamHealth}. */
  upsertsSent(): number;
  close(): Promise<void>;
}

/** What the fake serves. */
export interface FakeApiOptions {
  /** Folder of the built console (console/dist). */
  distDir: string;
  /** Number of screens in the fleet (default 10,000). */
  screenCount?: number;
  /** A real video file served as every clip's bytes by `GET /api/videos/<id>/file`; 404 without. */
  clipFile?: string;
}

/** The fake tenant's people; every password is {@link fakePassword}. */
export const fakeUsers = {
  admin: { email: "admin@demo.test", role: Role.ADMIN, name: "Ada Admin" },
  viewer: { email: "viewer@demo.test", role: Role.VIEWER, name: "Vic Viewer" },
} as const;
/** Password of every fake user. */
export const fakePassword = "correct horse battery";
/** The fake tenant's slug. */
export const fakeTenant = "demo";
/** The pairing code the fake's one unclaimed screen shows. */
export const fakePairingCode = "K7P2-9XQM";
/** A file name the fake upload endpoint refuses like ffprobe would. */
export const unusableFileName = "not-a-video.mp4";

const quotaBytes = 10n * 1024n ** 3n;

/** Starts the fake on 127.0.0.1, port 0. */
export async function startFakeApi(options: FakeApiOptions): Promise<FakeApi> {
  const state = createState(options.screenCount ?? 10_000);
  const watchers = new Set<AsyncQueue<WatchFleetResponse>>();
  let sent = 0;

  const handler = connectNodeAdapter({
    routes: (router) => routes(router, state, watchers),
    // The server is HTTP/1.1 (gRPC-Web needs no HTTP/2), so the fallback gets http1 objects.
    fallback: (req, res) => void httpFallback(req as http.IncomingMessage, res as http.ServerResponse, state, options),
  });
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    upsertsSent: () => sent,
    streamHealth(perSecond) {
      const started = performance.now();
      let streamed = 0;
      let cursor = 0;
      // Catch up to the wall clock on every tick, so a late timer does not lower the rate.
      const timer = setInterval(() => {
        const due = Math.floor(((performance.now() - started) * perSecond) / 1000) - streamed;
        for (let i = 0; i < due; i++) {
          const index = cursor % state.screens.length;
          cursor += 7919; // a prime stride spreads updates over the whole table
          const before = state.screens[index];
          if (!before) continue;
          const next = clone(ScreenSchema, before);
          next.lastSeenAt = timestampNow();
          if (next.lastHealth) next.lastHealth.cpuTemperatureCelsius = 40 + ((cursor >> 3) % 35);
          state.screens[index] = next;
          state.byId.set(next.id, next);
          const event = create(WatchFleetResponseSchema, { event: { case: "upsert", value: next } });
          for (const q of watchers) q.push(event, next.id);
          streamed++;
          sent++;
        }
      }, 50);
      return () => clearInterval(timer);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const q of watchers) q.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

interface FakeState {
  sessions: Map<string, Principal>;
  screens: Screen[];
  byId: Map<string, Screen>;
  videos: Video[];
  playlists: Playlist[];
  rules: Rule[];
  /** Default playlists: the tenant's first, then the groups' by name (as the server lists them). */
  defaults: DefaultPlaylist[];
  groups: { id: string; name: string }[];
  commands: CommandRecord[];
  users: User[];
  tokens: ApiToken[];
}

function createState(screenCount: number): FakeState {
  const groups = ["grp-lobby", "grp-menu", "grp-window"];
  const tags = ["north", "south", "east", "west", "flagship"];
  const screens: Screen[] = [];
  for (let i = 0; i < screenCount; i++) {
    const n = String(i + 1).padStart(5, "0");
    const offline = i % 17 === 3;
    const failed = i % 53 === 7;
    screens.push(
      create(ScreenSchema, {
        id: `scr-${n}`,
        name: `Store ${n}`,
        hardwareId: `rpi-${(0x10000 + i).toString(16)}`,
        groupId: groups[i % groups.length] ?? "",
        tags: [tags[i % tags.length] ?? "north", ...(i % 10 === 0 ? ["flagship"] : [])],
        connection: offline ? ConnectionState.OFFLINE : ConnectionState.ONLINE,
        lastSeenAt: timestampFromDate(new Date(Date.now() - (offline ? 3_600_000 : 5_000))),
        desiredVersion: 4n,
        appliedVersion: failed ? 3n : 4n,
        syncStatus: failed ? SyncStatus.FAILED : SyncStatus.SYNCED,
        lastSyncError: failed ? "not enough disk space for clip 3 (needs 210 MB, 80 MB free)" : "",
        lastHealth: {
          cpuTemperatureCelsius: 45 + (i % 30),
          cpuLoadPercent: 20 + (i % 50),
          diskUsedBytes: BigInt(8 + (i % 20)) * 1024n ** 3n,
          diskTotalBytes: 32n * 1024n ** 3n,
        },
        playback: { state: PlaybackState.PLAYING, playlistId: "pl-1", videoId: `vid-${(i % 3) + 1}` },
        playerVersion: "0.1.0",
        osVersion: "Debian 12",
        model: "Raspberry Pi 4 Model B",
      }),
    );
  }
  const videos = ["Morning menu", "Summer sale", "Brand loop"].map((name, i) =>
    create(VideoSchema, {
      id: `vid-${i + 1}`,
      name,
      sha256: String(i + 1).repeat(64),
      sizeBytes: BigInt(40 + i * 25) * 1024n ** 2n,
      durationMs: 15_000 + i * 15_000,
      codec: "h264",
      width: 1920,
      height: 1080,
      originalName: `${name.toLowerCase().replaceAll(" ", "-")}.mp4`,
      createdAt: timestampNow(),
      usedByPlaylistIds: i < 2 ? ["pl-1"] : [],
      thumbnailUrl: `/v1/videos/vid-${i + 1}/thumbnail.jpg`,
      contentType: "video/mp4",
    }),
  );
  const playlists = [
    create(PlaylistSchema, {
      id: "pl-1",
      name: "Daytime",
      videoIds: ["vid-1", "vid-2"],
      totalDurationMs: 45_000n,
      etag: "1",
      updatedAt: timestampNow(),
    }),
  ];
  const everyScreen = { kind: { case: "wholeTenant" as const, value: true } };
  const rules = [
    create(RuleSchema, {
      id: "rule-breakfast",
      name: "Breakfast",
      target: everyScreen,
      playlistId: "pl-1",
      priority: 20,
      daysOfWeek: [1, 2, 3, 4, 5],
      window: { startMinute: 6 * 60, endMinute: 10 * 60 + 30 },
      enabled: true,
      etag: "1",
    }),
    create(RuleSchema, {
      id: "rule-late",
      name: "Late night",
      target: everyScreen,
      playlistId: "pl-1",
      priority: 10,
      window: { startMinute: 22 * 60, endMinute: 2 * 60 },
      startDate: { year: 2026, month: 1, day: 1 },
      enabled: true,
      etag: "1",
    }),
  ];
  return {
    sessions: new Map(),
    screens,
    byId: new Map(screens.map((s) => [s.id, s])),
    videos,
    playlists,
    rules,
    defaults: [
      create(DefaultPlaylistSchema, {
        target: { kind: { case: "groupId", value: "grp-menu" } },
        playlistId: "pl-1",
        playlistName: "Daytime",
        groupName: "Menu boards",
      }),
    ],
    commands: [],
    tokens: [],
    users: Object.values(fakeUsers).map((u, i) =>
      create(UserSchema, { id: `user-${i + 1}`, email: u.email, displayName: u.name, role: u.role }),
    ),
    groups: [
      { id: "grp-lobby", name: "Lobby" },
      { id: "grp-menu", name: "Menu boards" },
      { id: "grp-window", name: "Windows" },
    ],
  };
}

const roleNames: Record<Role, string> = {
  [Role.UNSPECIFIED]: "anonymous",
  [Role.VIEWER]: "viewer",
  [Role.EDITOR]: "editor",
  [Role.ADMIN]: "admin",
};

/**
 * The caller of `method` (e.g. "DeleteVideo") by its bearer token, refused as the real server
 * refuses (src/platform/auth/access.ts), with the same codes and messages.
 */
function caller(state: FakeState, header: Headers, method: string, minimum: Role = Role.VIEWER): Principal {
  const token = /^Bearer (.+)$/.exec(header.get("authorization") ?? "")?.[1];
  if (!token) {
    throw new ConnectError(
      "missing credentials: send `authorization: Bearer <session token or API token>`",
      Code.Unauthenticated,
    );
  }
  const principal = state.sessions.get(token);
  if (!principal) {
    throw new ConnectError(
      "the bearer token is unknown, expired or revoked: log in again or use a valid API token",
      Code.Unauthenticated,
    );
  }
  if (principal.role < minimum) {
    throw new ConnectError(
      `${method} needs the ${roleNames[minimum]} role; the caller is ${roleNames[principal.role]}`,
      Code.PermissionDenied,
    );
  }
  return principal;
}

function routes(router: ConnectRouter, state: FakeState, watchers: Set<AsyncQueue<WatchFleetResponse>>): void {
  const who = (ctx: HandlerContext, minimum?: Role) => caller(state, ctx.requestHeader, ctx.method.name, minimum);
  router.service(AuthService, {
    login(req) {
      const user = Object.values(fakeUsers).find((u) => u.email === req.email.toLowerCase());
      if (!user || req.password !== fakePassword || req.tenant !== fakeTenant) {
        throw new ConnectError("wrong tenant, email or password", Code.Unauthenticated);
      }
      const token = `session-${crypto.randomUUID()}`;
      const principal = create(PrincipalSchema, {
        userId: state.users.find((u) => u.email === user.email)?.id ?? "",
        displayName: user.name,
        email: user.email,
        role: user.role,
        tenantId: "tenant-demo",
        tenantName: "Demo Retail",
      });
      state.sessions.set(token, principal);
      return { sessionToken: token, principal };
    },
    logout(_req, ctx) {
      const token = (ctx.requestHeader.get("authorization") ?? "").replace(/^Bearer /, "");
      state.sessions.delete(token);
      return {};
    },
    whoAmI: (_req, ctx) => ({ principal: who(ctx) }),
  });
  router.service(ContentService, {
    listVideos(req, ctx) {
      who(ctx);
      const q = req.nameContains.toLowerCase();
      const videos = state.videos.filter((v) => v.name.toLowerCase().includes(q));
      return { videos, totalCount: videos.length };
    },
    getStorageUsage(_req, ctx) {
      who(ctx);
      return {
        usedBytes: state.videos.reduce((sum, v) => sum + v.sizeBytes, 0n),
        quotaBytes,
        videoCount: state.videos.length,
        maxUploadBytes: 2n * 1024n ** 3n,
        minDurationMs: 1000,
        maxDurationMs: 3_600_000,
      };
    },
    deleteVideo(req, ctx) {
      who(ctx, Role.EDITOR);
      const video = state.videos.find((v) => v.id === req.id);
      if (!video) throw new ConnectError(`video ${req.id} not found`, Code.NotFound);
      if (video.usedByPlaylistIds.length > 0) {
        const names = state.playlists
          .filter((p) => video.usedByPlaylistIds.includes(p.id))
          .map((p) => `"${p.name}" (${p.id})`);
        throw new ConnectError(
          `video "${video.name}" is used by playlist ${names.join(", ")}; remove it from them first`,
          Code.FailedPrecondition,
        );
      }
      state.videos = state.videos.filter((v) => v !== video);
      return {};
    },
  });
  router.service(ScheduleService, {
    listPlaylists(_req, ctx) {
      who(ctx);
      return { playlists: state.playlists };
    },
    previewSchedule(req, ctx) {
      who(ctx);
      if (!state.byId.has(req.screenId))
        throw new ConnectError(`no screen ${req.screenId} in your tenant`, Code.NotFound);
      return { playlistId: "pl-1", ruleId: "rule-breakfast" };
    },
    listRules(_req, ctx) {
      who(ctx);
      return { rules: state.rules };
    },
    listDefaultPlaylists(_req, ctx) {
      who(ctx);
      return { defaults: state.defaults };
    },
    setDefaultPlaylist(req, ctx) {
      who(ctx, Role.EDITOR);
      const kind = req.target?.kind;
      const group = kind?.case === "groupId" ? state.groups.find((g) => g.id === kind.value) : undefined;
      if (kind?.case !== "wholeTenant" && !group) {
        // As the real server: an id not in the tenant is NOT_FOUND, a missing target INVALID_ARGUMENT.
        throw kind?.case === "groupId"
          ? new ConnectError(`target group ${kind.value} does not exist`, Code.NotFound)
          : new ConnectError("target is required: screen_id, group_id, tag or whole_tenant", Code.InvalidArgument);
      }
      const playlist = state.playlists.find((p) => p.id === req.playlistId);
      if (req.playlistId && !playlist) {
        throw new ConnectError(`playlist ${req.playlistId} does not exist`, Code.NotFound);
      }
      const others = state.defaults.filter((d) =>
        group ? d.target?.kind.value !== group.id : d.target?.kind.case !== "wholeTenant",
      );
      const set = playlist
        ? [
            create(DefaultPlaylistSchema, {
              target: req.target,
              playlistId: playlist.id,
              playlistName: playlist.name,
              groupName: group?.name ?? "",
            }),
          ]
        : [];
      // The tenant's default has no group name, so it sorts first.
      state.defaults = [...others, ...set].sort((a, b) => a.groupName.localeCompare(b.groupName));
      return {};
    },
  });
  router.service(PublishService, {
    publish(req, ctx) {
      who(ctx, req.dryRun ? Role.VIEWER : Role.EDITOR);
      // The first three screens have changes; on a real publish they go pending, then two sync
      // and one fails, announced over WatchFleet like real acknowledgements.
      const changed = state.screens.slice(0, 3);
      const results = changed.map((s) => ({
        screenId: s.id,
        screenName: s.name,
        previousVersion: s.desiredVersion,
        version: s.desiredVersion + 1n,
        changed: true,
        addedAssetSha256s: ["a".repeat(64)],
        rulesChanged: true,
        syncStatus: SyncStatus.PENDING,
      }));
      if (!req.dryRun) {
        changed.forEach((s, i) => {
          const pending = clone(ScreenSchema, s);
          pending.desiredVersion += 1n;
          pending.syncStatus = SyncStatus.PENDING;
          upsertScreen(state, watchers, pending);
          setTimeout(
            () => {
              const acked = clone(ScreenSchema, pending);
              if (i === 2) {
                acked.syncStatus = SyncStatus.FAILED;
                acked.lastSyncError = "download of clip 2 failed: disk full (needs 120 MB, 40 MB free)";
              } else {
                acked.syncStatus = SyncStatus.SYNCED;
                acked.appliedVersion = acked.desiredVersion;
              }
              upsertScreen(state, watchers, acked);
            },
            400 * (i + 1),
          );
        });
      }
      return { results, publishedAt: timestampNow() };
    },
  });
  router.service(UserService, {
    listUsers(_req, ctx) {
      who(ctx, Role.ADMIN);
      return { users: state.users };
    },
    createUser(req, ctx) {
      who(ctx, Role.ADMIN);
      if (req.password.length < 12) {
        throw new ConnectError("password must be at least 12 characters", Code.InvalidArgument);
      }
      const email = req.email.toLowerCase();
      if (state.users.some((u) => u.email === email)) {
        throw new ConnectError(`a user with email ${email} already exists in this tenant`, Code.AlreadyExists);
      }
      const user = create(UserSchema, {
        id: `user-${state.users.length + 1}`,
        email: req.email.toLowerCase(),
        displayName: req.displayName,
        role: req.role,
        createdAt: timestampNow(),
      });
      // The real server lists users by email.
      state.users = [...state.users, user].sort((a, b) => a.email.localeCompare(b.email));
      return { user };
    },
    listApiTokens(_req, ctx) {
      who(ctx, Role.ADMIN);
      return { tokens: state.tokens };
    },
    createApiToken(req, ctx) {
      who(ctx, Role.ADMIN);
      const token = create(ApiTokenSchema, {
        id: `tok-${state.tokens.length + 1}`,
        name: req.name,
        role: req.role,
        createdAt: timestampNow(),
      });
      state.tokens.push(token);
      // The real server's shape: a prefix and 32 random bytes in base64url.
      return { token, secret: `avt_${randomBytes(32).toString("base64url")}` };
    },
    revokeApiToken(req, ctx) {
      who(ctx, Role.ADMIN);
      const token = state.tokens.find((t) => t.id === req.id);
      if (!token) throw new ConnectError(`API token ${req.id} not found`, Code.NotFound);
      token.revoked = true;
      return {};
    },
  });
  // OS updates: the fake has no releases and no rollouts (the real-server test covers the page).
  router.service(UpdateService, {
    listReleases(_req, ctx) {
      who(ctx);
      return { releases: [] };
    },
    listRollouts(_req, ctx) {
      who(ctx);
      return { rollouts: [] };
    },
    listScreenUpdates(_req, ctx) {
      who(ctx);
      return { updates: [] };
    },
  });
  // Alerts: the fake has none (the fleet page's badge and a screen's history ask; the real-server test covers them).
  router.service(AlertService, {
    listAlerts(_req, ctx) {
      who(ctx);
      return { alerts: [] };
    },
  });
  router.service(FleetService, {
    listGroups(_req, ctx) {
      who(ctx);
      return {
        groups: state.groups.map((g) => ({
          ...g,
          screenCount: state.screens.filter((s) => s.groupId === g.id).length,
        })),
      };
    },
    createGroup(req, ctx) {
      who(ctx, Role.EDITOR);
      const group = { id: `grp-${state.groups.length + 1}`, name: req.name, screenCount: 0 };
      state.groups.push(group);
      return { group };
    },
    deleteGroup(req, ctx) {
      who(ctx, Role.EDITOR);
      const count = state.screens.filter((s) => s.groupId === req.id).length;
      if (count > 0) {
        throw new ConnectError("the group still has screens; move them out first", Code.FailedPrecondition);
      }
      state.groups = state.groups.filter((g) => g.id !== req.id);
      return {};
    },
    updateScreen(req, ctx) {
      who(ctx, Role.EDITOR);
      const before = state.byId.get(req.id);
      if (!before) throw new ConnectError(`no screen ${req.id} in your tenant`, Code.NotFound);
      if (req.etag !== before.etag) {
        throw new ConnectError(
          "the screen changed since you loaded it; reload and apply your edit again",
          Code.Aborted,
        );
      }
      const screen = clone(ScreenSchema, before);
      screen.name = req.name;
      screen.groupId = req.groupId;
      screen.tags = req.tags;
      screen.settings = req.settings;
      screen.etag = String(Number(before.etag || "0") + 1);
      upsertScreen(state, watchers, screen);
      return { screen };
    },
    getScreen(req, ctx) {
      who(ctx);
      const screen = state.byId.get(req.id);
      if (!screen) throw new ConnectError(`no screen ${req.id} in your tenant`, Code.NotFound);
      return { screen };
    },
    getHealthHistory(req, ctx) {
      who(ctx);
      const now = Date.now();
      const points = Array.from({ length: 288 }, (_, i) => ({
        at: timestampFromDate(new Date(now - (288 - i) * 300_000)),
        cpuTemperatureCelsius: 50 + 8 * Math.sin(i / 20) + (req.screenId.length % 5),
        cpuLoadPercent: 30 + 20 * Math.sin(i / 7),
        diskUsedBytes: BigInt(12 * 1024 ** 3 + i * 1024 ** 2),
      }));
      return { points };
    },
    listCommands(req, ctx) {
      who(ctx);
      return { commands: state.commands.filter((c) => c.screenId === req.screenId) };
    },
    sendCommand(req, ctx) {
      who(ctx, Role.EDITOR);
      // Every command "succeeds" at once; a screenshot comes with a generated PNG.
      const records = req.screenIds.map((screenId) =>
        create(CommandRecordSchema, {
          command: { commandId: crypto.randomUUID(), kind: req.kind, issuedAt: timestampNow() },
          screenId,
          status: CommandStatus.SUCCEEDED,
          resultMessage: req.kind === CommandKind.SCREENSHOT ? "captured 1920×1080" : "done",
          completedAt: timestampNow(),
          hasScreenshot: req.kind === CommandKind.SCREENSHOT,
        }),
      );
      state.commands.unshift(...records);
      return { commands: records };
    },
    getScreenshot(req, ctx) {
      who(ctx);
      const record = state.commands.find((c) => c.command?.commandId === req.commandId && c.hasScreenshot);
      if (!record) throw new ConnectError(`no screenshot for command ${req.commandId}`, Code.NotFound);
      return { png: solidPng(320, 180, [62, 99, 221]), takenAt: record.completedAt };
    },
    claimScreen(req, ctx) {
      who(ctx, Role.EDITOR);
      if (req.pairingCode.replace(/[\s-]/g, "").toUpperCase() !== fakePairingCode.replace("-", "")) {
        throw new ConnectError(
          "no screen shows this pairing code (it is wrong, expired or already used); check the code on the screen",
          Code.NotFound,
        );
      }
      const screen = create(ScreenSchema, {
        id: `scr-new-${state.screens.length + 1}`,
        name: req.name,
        hardwareId: "rpi-new",
        groupId: req.groupId,
        tags: req.tags,
        connection: ConnectionState.NEVER_CONNECTED,
        claimedAt: timestampNow(),
      });
      state.screens.push(screen);
      upsertScreen(state, watchers, screen);
      return { screen };
    },
    async *watchFleet(_req, ctx) {
      who(ctx);
      const queue = new AsyncQueue<WatchFleetResponse>();
      watchers.add(queue);
      ctx.signal.addEventListener("abort", () => queue.close(), { once: true });
      try {
        yield create(WatchFleetResponseSchema, { event: { case: "snapshot", value: { screens: state.screens } } });
        yield* queue;
      } finally {
        watchers.delete(queue);
      }
    },
  });
}

/** A width×height PNG of one colour: enough for the console to show a screenshot. */
function solidPng(width: number, height: number, rgb: [number, number, number]): Uint8Array {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // colour type: RGB
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: width }, () => rgb).flat())]);
  const pixels = Buffer.concat(Array.from({ length: height }, () => row));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(pixels)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

function upsertScreen(state: FakeState, watchers: Set<AsyncQueue<WatchFleetResponse>>, screen: Screen): void {
  const index = state.screens.findIndex((s) => s.id === screen.id);
  if (index >= 0) state.screens[index] = screen;
  state.byId.set(screen.id, screen);
  const event = create(WatchFleetResponseSchema, { event: { case: "upsert", value: screen } });
  for (const q of watchers) q.push(event, screen.id);
}

const contentTypes: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript",
  ".css": "text/css",
  ".map": "application/json",
  ".svg": "image/svg+xml",
};

async function httpFallback(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  state: FakeState,
  options: FakeApiOptions,
): Promise<void> {
  const url = new URL(req.url ?? "/", "http://fake");
  const distDir = options.distDir;
  try {
    if (req.method === "POST" && url.pathname === "/v1/videos") {
      await fakeUpload(req, res, state);
      return;
    }
    const media = /^\/v1\/videos\/([^/]+)\/(file|thumbnail\.jpg)$/.exec(url.pathname);
    if (req.method === "GET" && media) {
      try {
        caller(state, new Headers(req.headers as Record<string, string>), "GetVideoFile");
      } catch {
        res.writeHead(401).end();
        return;
      }
      if (!state.videos.some((v) => v.id === media[1])) throw new Error("unknown video");
      if (media[2] === "thumbnail.jpg") {
        res.writeHead(200, { "content-type": "image/png" });
        res.end(solidPng(160, 90, [18, 165, 148]));
        return;
      }
      if (!options.clipFile) throw new Error("no clip file");
      res.writeHead(200, { "content-type": "video/webm" });
      res.end(await readFile(options.clipFile));
      return;
    }
    const path = url.pathname === "/" ? "/index.html" : url.pathname;
    const file = normalize(join(distDir, path));
    if (!file.startsWith(distDir)) throw new Error("outside dist");
    const body = await readFile(file);
    res.writeHead(200, { "content-type": contentTypes[extname(file)] ?? "application/octet-stream" });
    res.end(body);
  } catch {
    res.writeHead(404).end();
  }
}

async function fakeUpload(req: http.IncomingMessage, res: http.ServerResponse, state: FakeState): Promise<void> {
  let size = 0;
  for await (const chunk of req) size += (chunk as Buffer).length;
  const sendError = (err: ConnectError) => {
    res.writeHead(codeToHttpStatus(err.code), { "content-type": "application/json" });
    res.end(JSON.stringify(errorToJson(err, undefined)));
  };
  try {
    caller(state, new Headers(req.headers as Record<string, string>), "UploadVideo", Role.EDITOR);
  } catch (err) {
    sendError(ConnectError.from(err));
    return;
  }
  const fileName = decodeURIComponent(String(req.headers["x-file-name"] ?? "clip.mp4"));
  if (fileName === unusableFileName) {
    sendError(
      new ConnectError(
        "the file is not a video that ffprobe can read (damaged, truncated or not a video at all)",
        Code.InvalidArgument,
      ),
    );
    return;
  }
  const video = create(VideoSchema, {
    id: `vid-${state.videos.length + 1}`,
    name: fileName.replace(/\.[^.]+$/, ""),
    sizeBytes: BigInt(size),
    durationMs: 10_000,
    codec: "h264",
    width: 1920,
    height: 1080,
    originalName: fileName,
    createdAt: timestampNow(),
    contentType: "video/mp4",
  });
  state.videos = [video, ...state.videos];
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify(toJson(UploadVideoResponseSchema, create(UploadVideoResponseSchema, { video }))));
}
