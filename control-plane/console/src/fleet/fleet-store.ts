import type { Screen, WatchFleetResponse } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";

/** Schedules one callback before the next paint; `requestAnimationFrame` in the browser. */
export type FrameScheduler = (callback: () => void) => void;

/** A consistent view of the fleet handed to renderers. */
export interface FleetView {
  /** Increases on every published change; use it as a memo key. */
  version: number;
  /**
   * Every screen by id. This is the store's live Map (copying 10,000 entries per frame made
   * garbage-collection pauses), so it may already hold events newer than `version`; renderers
   * only read it, and a row showing a slightly newer screen is harmless.
   */
  screens: ReadonlyMap<string, Screen>;
  /** Screen ids sorted by name (then id). */
  order: readonly string[];
  /** True once the first snapshot arrived. */
  ready: boolean;
}

/**
 * Holds the live fleet from WatchFleet. Events are applied to a Map at once (cheap), but
 * listeners are told at most once per animation frame, so 2,000 upserts per second cost one
 * render per frame, not 2,000.
 *
 * INVARIANTS: `order` holds exactly the keys of `screens`, sorted by name then id, whenever a
 * view is published; re-sorting happens only when a screen appears, disappears or is renamed.
 */
export class FleetStore {
  readonly #schedule: FrameScheduler;
  readonly #listeners = new Set<() => void>();
  #screens = new Map<string, Screen>();
  #order: string[] = [];
  #orderDirty = false;
  #flushPending = false;
  #ready = false;
  #view: FleetView = { version: 0, screens: new Map(), order: [], ready: false };

  constructor(schedule: FrameScheduler) {
    this.#schedule = schedule;
  }

  /** The latest published view (stable between publishes, for useSyncExternalStore). */
  getView = (): FleetView => this.#view;

  /** Registers a listener called after each publish; returns the unsubscribe function. */
  subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  /** Applies one WatchFleet event. */
  apply(event: WatchFleetResponse): void {
    const e = event.event;
    switch (e.case) {
      case "snapshot":
        this.#screens = new Map(e.value.screens.map((s) => [s.id, s]));
        this.#orderDirty = true;
        this.#ready = true;
        break;
      case "upsert": {
        const before = this.#screens.get(e.value.id);
        if (!before || before.name !== e.value.name) this.#orderDirty = true;
        this.#screens.set(e.value.id, e.value);
        break;
      }
      case "removedScreenId":
        if (this.#screens.delete(e.value)) this.#orderDirty = true;
        break;
      default:
        // keep_alive (or an event kind newer than this console) changes nothing.
        return;
    }
    this.#requestFlush();
  }

  /** Forgets everything (on sign-out or before a fresh snapshot after reconnecting). */
  reset(): void {
    this.#screens = new Map();
    this.#order = [];
    this.#ready = false;
    this.#orderDirty = false;
    this.#requestFlush();
  }

  #requestFlush(): void {
    if (this.#flushPending) return;
    this.#flushPending = true;
    this.#schedule(() => this.#flush());
  }

  #flush(): void {
    this.#flushPending = false;
    if (this.#orderDirty) {
      this.#order = [...this.#screens.values()].sort(byName).map((s) => s.id);
      this.#orderDirty = false;
    }
    this.#view = {
      version: this.#view.version + 1,
      screens: this.#screens,
      order: this.#order,
      ready: this.#ready,
    };
    for (const listener of this.#listeners) listener();
  }
}

// One collator: String.localeCompare with options builds one per call, far too slow for 10,000.
const collator = new Intl.Collator(undefined, { numeric: true });

function byName(a: Screen, b: Screen): number {
  return collator.compare(a.name, b.name) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
