import { AsyncQueue } from "@avtech/io";
import type { Screen } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";

/** What the live view delivers: a full screen, the id of a deleted one, or a keep-alive tick. */
export type FleetChange =
  | { kind: "upsert"; screen: Screen }
  | { kind: "removed"; screenId: string }
  | { kind: "keepAlive" };

/** Builds the views of changed screens of one tenant (one read for the whole batch). */
export type ScreenViews = (tenantId: string, screenIds: readonly string[]) => Promise<Screen[]>;

/**
 * Fans screen changes out to every WatchFleet stream of a tenant without each stream polling the
 * database: stream handlers and publish call `changed()`; every `flushMs` the changed screens are
 * read once and pushed to the subscribers, coalesced per screen (a slow console gets the latest
 * view of each screen, never a backlog).
 */
export class FleetBroadcaster {
  readonly #views: ScreenViews;
  readonly #subscribers = new Map<string, Set<AsyncQueue<FleetChange>>>();
  readonly #dirty = new Map<string, Set<string>>();
  readonly #removed = new Map<string, Set<string>>();
  readonly #timer: NodeJS.Timeout;
  #flushing: Promise<void> = Promise.resolve();

  constructor(views: ScreenViews, flushMs = 250) {
    this.#views = views;
    this.#timer = setInterval(() => void this.flush(), flushMs);
    this.#timer.unref();
  }

  /** Marks a screen as changed; ignored when nobody of its tenant watches. */
  changed(tenantId: string, screenId: string): void {
    if (!this.#subscribers.has(tenantId)) return;
    addTo(this.#dirty, tenantId, screenId);
  }

  /** Announces a deleted screen. */
  removed(tenantId: string, screenId: string): void {
    if (!this.#subscribers.has(tenantId)) return;
    this.#dirty.get(tenantId)?.delete(screenId);
    addTo(this.#removed, tenantId, screenId);
  }

  /** A queue of the tenant's changes from now on; call `unsubscribe` when the watcher leaves. */
  subscribe(tenantId: string): { changes: AsyncQueue<FleetChange>; unsubscribe: () => void } {
    const changes = new AsyncQueue<FleetChange>();
    let set = this.#subscribers.get(tenantId);
    if (!set) {
      set = new Set();
      this.#subscribers.set(tenantId, set);
    }
    set.add(changes);
    return {
      changes,
      unsubscribe: () => {
        changes.close();
        set.delete(changes);
        if (set.size === 0) this.#subscribers.delete(tenantId);
      },
    };
  }

  /** Delivers pending changes now (the timer calls it; tests may too). Flushes never overlap. */
  flush(): Promise<void> {
    this.#flushing = this.#flushing.then(() => this.#flushOnce());
    return this.#flushing;
  }

  /** Stops the timer and ends every subscription. */
  close(): void {
    clearInterval(this.#timer);
    for (const set of this.#subscribers.values()) for (const queue of set) queue.close();
    this.#subscribers.clear();
  }

  async #flushOnce(): Promise<void> {
    const dirty = new Map(this.#dirty);
    const removed = new Map(this.#removed);
    this.#dirty.clear();
    this.#removed.clear();
    for (const [tenantId, ids] of removed) {
      for (const queue of this.#subscribers.get(tenantId) ?? []) {
        for (const screenId of ids) queue.push({ kind: "removed", screenId }, screenId);
      }
    }
    for (const [tenantId, ids] of dirty) {
      const subscribers = this.#subscribers.get(tenantId);
      if (!subscribers || ids.size === 0) continue;
      const screens = await this.#views(tenantId, [...ids]);
      for (const queue of subscribers) {
        for (const screen of screens) queue.push({ kind: "upsert", screen }, screen.id);
      }
    }
  }
}

function addTo(map: Map<string, Set<string>>, key: string, value: string): void {
  let set = map.get(key);
  if (!set) {
    set = new Set();
    map.set(key, set);
  }
  set.add(value);
}
