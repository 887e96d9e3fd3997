import { useMemo, useSyncExternalStore } from "react";
import { useApi } from "../api/api-context.tsx";
import type { FleetView } from "./fleet-store.ts";

/** The live fleet view; re-renders at most once per animation frame. */
export function useFleetView(): FleetView {
  const { fleet } = useApi();
  return useSyncExternalStore(fleet.subscribe, fleet.getView);
}

/**
 * Every tag in the fleet, sorted. Recomputed when screens appear, disappear or are renamed
 * (`view.order` changes), not on every heartbeat: a tag added to an existing screen shows up at
 * the next such change or reload.
 */
export function useFleetTags(view: FleetView): string[] {
  // biome-ignore lint/correctness/useExhaustiveDependencies: view.order changes exactly when the set of screens does.
  return useMemo(() => {
    const tags = new Set<string>();
    for (const s of view.screens.values()) for (const t of s.tags) tags.add(t);
    return [...tags].sort();
  }, [view.order]);
}
