import {
  type ScreenPublishResult,
  ScreenPublishResultSchema,
  SyncStatus,
} from "@avtech/proto/gen/avtech/publish/v1/publish_pb.js";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Logger } from "pino";
import {
  type BuiltDocument,
  type DesiredStateDiff,
  DocumentDiffer,
  DocumentFactory,
  type ScreenFacts,
  type TargetSelector,
  targetSelects,
} from "../../core/desired-state/index.ts";
import type { Clock } from "../../platform/clock.ts";
import type { LiveDelivery } from "../device/delivery.ts";
import type { FleetBroadcaster } from "../fleet/broadcaster.ts";
import type { FleetConfig } from "../fleet/config.ts";
import type { FleetStores, OsUpdateOffers, VersionInsert } from "../fleet/ports.ts";
import { syncStatusOf } from "../fleet/view.ts";

/** A batch retries the screens that lost a version race this many times (each round one publisher wins). */
const maxAttempts = 100;
/**
 * Screens stored and pushed per batch: a batch costs four statements whatever its size, and the
 * screens of the first batch get their state while later batches are still being written.
 */
const batchSize = 500;
/** Batches in flight at once, so one batch's statements overlap the next one's CPU work. */
const concurrentBatches = 2;

/** What a {@link Publisher} uses, and nothing more. */
export interface PublisherDeps {
  stores: Pick<FleetStores, "publishSources" | "desiredStates" | "statuses">;
  config: Pick<FleetConfig, "assetUrl">;
  clock: Clock;
  logger: Logger;
  /** Sends a just-stored version to a stream this process holds. */
  delivery: Pick<LiveDelivery, "offer" | "holds">;
  /** The live view: told about every screen that got a new version. */
  broadcaster: Pick<FleetBroadcaster, "changed">;
  /** Brings screens whose streams other processes hold up to date. */
  wake(screenIds: readonly string[]): Promise<void>;
  /**
   * The OS update each screen is offered (src/fleet/update), put into its document; without it no
   * document carries one. Read with every batch, so a publish of content keeps a screen's offer.
   */
  offers?: OsUpdateOffers;
}

/**
 * Publish: builds the desired state of every selected screen, stores version N+1 only where the
 * content hash changed (an optimistic check on the latest version; a lost race re-reads and
 * retries), sends each new version at once to a stream this process holds, and wakes the other
 * processes for the rest.
 *
 * Documents are built per distinct content (see DocumentFactory), and screens are written in
 * batches: one statement reads the heads of a batch, one inserts its new versions, one raises
 * their desired versions, so a publish to 10,000 screens is a few dozen statements.
 */
export class Publisher {
  readonly #deps: PublisherDeps;

  constructor(deps: PublisherDeps) {
    this.#deps = deps;
  }

  /** Publishes to the screens `targets` select (all of the tenant's when empty). */
  async publish(tenantId: string, targets: readonly TargetSelector[], dryRun: boolean): Promise<ScreenPublishResult[]> {
    const sources = await this.#deps.stores.publishSources.forTenant(tenantId);
    const screens = sources.screens.filter(
      (screen) => targets.length === 0 || targets.some((target) => targetSelects(target, screen)),
    );
    const factory = new DocumentFactory({ ...sources, assetUrl: this.#deps.config.assetUrl });
    const differ = new DocumentDiffer(factory);
    const batches: ScreenFacts[][] = [];
    for (let start = 0; start < screens.length; start += batchSize)
      batches.push(screens.slice(start, start + batchSize));
    const done: ScreenPublishResult[][] = new Array(batches.length);
    let next = 0;
    const worker = async () => {
      while (next < batches.length) {
        const index = next++;
        done[index] = await this.#publishBatch(batches[index] ?? [], factory, differ, dryRun);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrentBatches, batches.length) }, worker));
    const results = done.flat();
    const changed = results.filter((result) => result.changed && !dryRun).map((result) => result.screenId);
    if (changed.length > 0) {
      // Screens held here were sent their version as it was stored; the rest may be held elsewhere.
      await this.#deps.wake(changed.filter((screenId) => !this.#deps.delivery.holds(screenId)));
      for (const screenId of changed) this.#deps.broadcaster.changed(tenantId, screenId);
      this.#deps.logger.info({ tenantId, screens: screens.length, changed: changed.length }, "published");
    }
    return results;
  }

  async #publishBatch(
    screens: readonly ScreenFacts[],
    factory: DocumentFactory,
    differ: DocumentDiffer,
    dryRun: boolean,
  ): Promise<ScreenPublishResult[]> {
    const { desiredStates, statuses } = this.#deps.stores;
    const documents = new Map<string, BuiltDocument>();
    const build = async (batch: readonly ScreenFacts[]) => {
      const offers = (await this.#deps.offers?.offersFor(batch.map((screen) => screen.id))) ?? new Map();
      for (const screen of batch) documents.set(screen.id, factory.build(screen, offers.get(screen.id)));
    };
    const documentOf = (screen: ScreenFacts) => documents.get(screen.id) as BuiltDocument;
    const results = new Map<string, ScreenOutcome>();
    let pending = screens;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt === maxAttempts) {
        throw new ConnectError(
          `screen ${pending[0]?.id} kept changing during publish (${maxAttempts} version conflicts); publish again`,
          Code.Aborted,
        );
      }
      // Offers are read again after a lost race: the version that won may carry an offer this
      // batch read before a rollout changed it, and ours must not put the old one back.
      if (attempt === 0 || this.#deps.offers) await build(pending);
      const heads = await desiredStates.heads(pending.map((screen) => screen.id));
      const changed: ScreenFacts[] = [];
      for (const screen of pending) {
        const head = heads.get(screen.id);
        if (head?.contentHash === documentOf(screen).contentHash) {
          results.set(screen.id, { screen, previousVersion: head.version, version: head.version, diff: undefined });
        } else {
          changed.push(screen);
        }
      }
      // The previous documents are only needed (and only read) for the screens whose content changed.
      const previous = await desiredStates.latestEncoded(changed.filter((s) => heads.has(s.id)).map((s) => s.id));
      const versionOf = (screen: ScreenFacts) => (heads.get(screen.id)?.version ?? 0n) + 1n;
      const diffOf = (screen: ScreenFacts) => differ.diff(previous.get(screen.id), documentOf(screen));
      if (dryRun) {
        for (const screen of changed) {
          const version = versionOf(screen);
          results.set(screen.id, { screen, previousVersion: version - 1n, version, diff: diffOf(screen) });
        }
        break;
      }
      const now = this.#deps.clock.now();
      const generatedAt = timestampFromDate(now);
      const inserts: VersionInsert[] = changed.map((screen) => {
        const version = versionOf(screen);
        const document = documentOf(screen);
        return {
          screenId: screen.id,
          version,
          contentHash: document.contentHash,
          document: document.encode(version, generatedAt),
        };
      });
      const inserted = await desiredStates.insertMany(inserts);
      const won = inserts.filter((entry) => inserted.has(entry.screenId));
      // desired_version is raised before the push, so an ack can never arrive ahead of it.
      await statuses.raiseDesiredMany(won, now);
      const encodedOf = new Map(won.map((entry) => [entry.screenId, entry.document]));
      for (const screen of changed) {
        const encoded = encodedOf.get(screen.id);
        if (!encoded) continue;
        const version = versionOf(screen);
        this.#deps.delivery.offer(screen.id, version, encoded);
        // Just stored and not yet acked (a failure report needs the version first): pending.
        results.set(screen.id, {
          screen,
          previousVersion: version - 1n,
          version,
          diff: diffOf(screen),
          syncStatus: SyncStatus.PENDING,
        });
      }
      pending = changed.filter((screen) => !inserted.has(screen.id));
    }
    const unknown = [...results.values()].filter((result) => result.syncStatus === undefined);
    const current = await statuses.getMany(unknown.map((result) => result.screen.id));
    return screens.map((screen) => {
      const result = results.get(screen.id);
      if (!result) throw new Error(`screen ${screen.id} has no publish result`);
      return resultOf({ ...result, syncStatus: result.syncStatus ?? syncStatusOf(current.get(screen.id)) });
    });
  }
}

/** What a batch learned about one screen; syncStatus is read afterwards where it is not known. */
interface ScreenOutcome {
  screen: ScreenFacts;
  previousVersion: bigint;
  version: bigint;
  /** Set when the content changed (a new version, or one a dry run would store). */
  diff: DesiredStateDiff | undefined;
  syncStatus?: SyncStatus;
}

function resultOf(result: ScreenOutcome & { syncStatus: SyncStatus }): ScreenPublishResult {
  const { diff } = result;
  return create(ScreenPublishResultSchema, {
    screenId: result.screen.id,
    screenName: result.screen.name,
    previousVersion: result.previousVersion,
    version: result.version,
    changed: diff !== undefined,
    addedAssetSha256s: diff?.addedAssetSha256s ?? [],
    removedAssetSha256s: diff?.removedAssetSha256s ?? [],
    rulesChanged: diff?.rulesChanged === true,
    settingsChanged: diff?.settingsChanged === true,
    syncStatus: result.syncStatus,
  });
}
