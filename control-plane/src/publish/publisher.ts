import {
  type ScreenPublishResult,
  ScreenPublishResultSchema,
  type SyncStatus,
} from "@avtech/proto/gen/avtech/publish/v1/publish_pb.js";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  buildDesiredState,
  diffDesiredStates,
  type ScreenFacts,
  type TargetSelector,
  targetSelects,
} from "../desired-state/index.ts";
import type { TenantPublishSources } from "../fleet/ports.ts";
import type { FleetRuntime } from "../fleet/runtime.ts";
import { syncStatusOf } from "../fleet/view.ts";

/** Publishes retry a conflicting version this many times (each round at least one publisher wins). */
const maxAttempts = 100;
/** Screens built and stored in parallel. */
const concurrency = 32;
/** Screens published between two event-loop turns. */
const yieldEvery = 50;

/**
 * Publish: builds the desired state of every selected screen, stores version N+1 only where the
 * content hash changed (an optimistic check on the latest version; a conflict re-reads and
 * retries), sends each new version at once to a stream this process holds, and wakes the other
 * processes for the rest.
 */
export class Publisher {
  readonly #rt: FleetRuntime;

  constructor(rt: FleetRuntime) {
    this.#rt = rt;
  }

  /** Publishes to the screens `targets` select (all of the tenant's when empty). */
  async publish(tenantId: string, targets: readonly TargetSelector[], dryRun: boolean): Promise<ScreenPublishResult[]> {
    const sources = await this.#rt.stores.publishSources.forTenant(tenantId);
    const screens = sources.screens.filter(
      (screen) => targets.length === 0 || targets.some((target) => targetSelects(target, screen)),
    );
    const results: ScreenPublishResult[] = new Array(screens.length);
    let next = 0;
    let sinceYield = 0;
    const worker = async () => {
      while (next < screens.length) {
        const index = next++;
        results[index] = await this.#publishScreen(sources, screens[index] as ScreenFacts, dryRun);
        // Building documents is CPU work: give the event loop a turn now and then, so pushed
        // states reach the sockets (and acks and heartbeats are read) while the rest are built.
        if (++sinceYield >= yieldEvery) {
          sinceYield = 0;
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, screens.length) }, worker));
    const changed = results.filter((result) => result.changed && !dryRun).map((result) => result.screenId);
    if (changed.length > 0) {
      // Screens held here were sent their version as it was stored; the rest may be held elsewhere.
      await this.#rt.wake(changed.filter((screenId) => !this.#rt.delivery.holds(screenId)));
      for (const screenId of changed) this.#rt.broadcaster.changed(tenantId, screenId);
      this.#rt.logger.info({ tenantId, screens: screens.length, changed: changed.length }, "published");
    }
    return results;
  }

  async #publishScreen(
    sources: TenantPublishSources,
    screen: ScreenFacts,
    dryRun: boolean,
  ): Promise<ScreenPublishResult> {
    const document = buildDesiredState({ ...sources, screen, assetUrl: this.#rt.config.assetUrl });
    const { desiredStates, statuses } = this.#rt.stores;
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const previous = await desiredStates.latest(screen.id);
      const previousVersion = previous?.version ?? 0n;
      const changed = previous?.contentHash !== document.contentHash;
      // The diff is only needed (and only paid for) when the content changed.
      const diff = changed ? diffDesiredStates(previous, document) : undefined;
      const result = (version: bigint, isNew: boolean, status: SyncStatus) =>
        create(ScreenPublishResultSchema, {
          screenId: screen.id,
          screenName: screen.name,
          previousVersion,
          version,
          changed: isNew,
          addedAssetSha256s: isNew ? diff?.addedAssetSha256s : [],
          removedAssetSha256s: isNew ? diff?.removedAssetSha256s : [],
          rulesChanged: isNew && diff?.rulesChanged === true,
          settingsChanged: isNew && diff?.settingsChanged === true,
          syncStatus: status,
        });
      if (!changed) return result(previousVersion, false, syncStatusOf(await statuses.get(screen.id)));
      if (dryRun) return result(previousVersion + 1n, true, syncStatusOf(await statuses.get(screen.id)));
      const now = this.#rt.clock.now();
      // The document was built for this publish alone, so it is stamped in place (no clone).
      document.version = previousVersion + 1n;
      document.generatedAt = timestampFromDate(now);
      const outcome = await desiredStates.insertIfChanged(screen.id, previousVersion, document);
      if (outcome === "conflict") continue;
      if (outcome === "unchanged") return result(previousVersion, false, syncStatusOf(await statuses.get(screen.id)));
      this.#rt.delivery.offer(screen.id, document);
      await statuses.raiseDesired(screen.id, document.version, now);
      return result(document.version, true, syncStatusOf(await statuses.get(screen.id)));
    }
    throw new ConnectError(
      `screen ${screen.id} kept changing during publish (${maxAttempts} version conflicts); publish again`,
      Code.Aborted,
    );
  }
}
