/**
 * Which play events are kept raw, which only counted, which refused, and which partitions must
 * exist or may go: pure functions of the clock and the retention settings, shared by the ingest
 * (src/fleet/pg/play-events.ts) and the partition maintenance (./partitions.ts) so the two always
 * agree. Every boundary is in UTC; partitions are named after the UTC day or month they hold.
 */

/** How long play data is kept (`reports.*` in the config). */
export interface RetentionPolicy {
  /** Raw events: the events of the last N UTC days (and today) are kept row by row. */
  rawRetentionDays: number;
  /** Hourly rollups (plays and uptime): the last N whole UTC months and the current one. */
  rollupRetentionMonths: number;
}

/** Daily raw-event partitions exist this many days ahead of today (UTC). */
export const partitionsAheadDays = 3;

/**
 * Events that start more than this after the server's clock are refused (a device clock far
 * ahead); within it they are stored like any other. Less than {@link partitionsAheadDays}, so a
 * partition always exists for them.
 */
export const maxFutureMs = 24 * 3_600_000;

/**
 * Drops are computed for the clock one day back: a replica whose clock is a little behind (or a
 * flush that read the clock just before midnight) never writes into a partition another one has
 * just dropped. Expired data therefore goes within a day after its expiry, not at the instant.
 */
const dropGraceMs = 24 * 3_600_000;

const dayMs = 86_400_000;

/** Where the kept ranges start and end at one instant. */
export interface RetentionBounds {
  /** Events that started at or after this (a UTC midnight) are kept raw. */
  rawFrom: Date;
  /** Events that started before this (a UTC month start) are refused: their rollup month is gone. */
  acceptFrom: Date;
  /** Events that started after this are refused (the device clock is ahead). */
  acceptUntil: Date;
}

/** The UTC midnight at or before `at`. */
export function utcDay(at: Date): Date {
  return new Date(Math.floor(at.getTime() / dayMs) * dayMs);
}

/** The first instant of the UTC month of `at`, moved by `months`. */
export function utcMonth(at: Date, months = 0): Date {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + months, 1));
}

/** The kept ranges at `now`. */
export function retentionBounds(now: Date, policy: RetentionPolicy): RetentionBounds {
  return {
    rawFrom: new Date(utcDay(now).getTime() - policy.rawRetentionDays * dayMs),
    acceptFrom: utcMonth(now, -policy.rollupRetentionMonths),
    acceptUntil: new Date(now.getTime() + maxFutureMs),
  };
}

/** Where one event goes. */
export type EventPlacement = "raw" | "counted-only" | "refused";

/** Raw row and rollup; rollup only (its raw partition is gone); or neither. */
export function placeEvent(startedAt: Date, bounds: RetentionBounds): EventPlacement {
  const t = startedAt.getTime();
  if (t < bounds.acceptFrom.getTime() || t > bounds.acceptUntil.getTime()) return "refused";
  return t >= bounds.rawFrom.getTime() ? "raw" : "counted-only";
}

/** A time-partitioned table and the size of its partitions. */
export interface PartitionedTable {
  name: string;
  unit: "day" | "month";
}

/**
 * The partitioned tables (Migration20261206200000_play_reports): raw events by day of
 * `started_at`, the six hourly tables by month of `hour`.
 */
export const partitionedTables: readonly PartitionedTable[] = [
  { name: "play_events", unit: "day" },
  { name: "play_hourly", unit: "month" },
  { name: "play_screen_hourly", unit: "month" },
  { name: "play_group_clip_hourly", unit: "month" },
  { name: "play_group_hourly", unit: "month" },
  { name: "play_tenant_hourly", unit: "month" },
  { name: "screen_uptime_hourly", unit: "month" },
];

/** One partition: its table, name and bounds [start, end). */
export interface Partition {
  table: string;
  name: string;
  start: Date;
  end: Date;
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, "0");
}

/** The partition of `table` that holds `at`: `play_events_d20260329`, `play_hourly_m202603`. */
export function partitionFor(table: PartitionedTable, at: Date): Partition {
  if (table.unit === "day") {
    const start = utcDay(at);
    const stamp = `${start.getUTCFullYear()}${pad(start.getUTCMonth() + 1)}${pad(start.getUTCDate())}`;
    return { table: table.name, name: `${table.name}_d${stamp}`, start, end: new Date(start.getTime() + dayMs) };
  }
  const start = utcMonth(at);
  const stamp = `${start.getUTCFullYear()}${pad(start.getUTCMonth() + 1)}`;
  return { table: table.name, name: `${table.name}_m${stamp}`, start, end: utcMonth(at, 1) };
}

/** The bounds of a partition from its name; undefined for a name this scheme did not make. */
export function parsePartition(table: PartitionedTable, name: string): Partition | undefined {
  const match =
    table.unit === "day"
      ? new RegExp(`^${table.name}_d(\\d{4})(\\d{2})(\\d{2})$`).exec(name)
      : new RegExp(`^${table.name}_m(\\d{4})(\\d{2})$`).exec(name);
  if (!match) return undefined;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3] ?? 1)];
  const at = new Date(Date.UTC(year, month - 1, day));
  const partition = partitionFor(table, at);
  return partition.name === name ? partition : undefined;
}

/** Partitions to create and to drop. */
export interface PartitionPlan {
  create: Partition[];
  drop: Partition[];
}

/**
 * What must change so that every partition an event accepted at `now` needs exists (raw days from
 * `rawFrom` to {@link partitionsAheadDays} ahead; rollup months from `acceptFrom` to next month),
 * and every partition wholly expired a day ago goes. `existing` maps a table name to the names of
 * its partitions; names this scheme did not make are left alone.
 */
export function planPartitions(
  existing: ReadonlyMap<string, readonly string[]>,
  now: Date,
  policy: RetentionPolicy,
): PartitionPlan {
  const bounds = retentionBounds(now, policy);
  const dropBounds = retentionBounds(new Date(now.getTime() - dropGraceMs), policy);
  const plan: PartitionPlan = { create: [], drop: [] };
  for (const table of partitionedTables) {
    const have = new Set(existing.get(table.name) ?? []);
    const wanted: Partition[] = [];
    if (table.unit === "day") {
      const last = utcDay(now).getTime() + partitionsAheadDays * dayMs;
      for (let t = bounds.rawFrom.getTime(); t <= last; t += dayMs) wanted.push(partitionFor(table, new Date(t)));
    } else {
      for (let at = bounds.acceptFrom; at.getTime() <= utcMonth(now, 1).getTime(); at = utcMonth(at, 1)) {
        wanted.push(partitionFor(table, at));
      }
    }
    plan.create.push(...wanted.filter((partition) => !have.has(partition.name)));
    const dropBefore = (table.unit === "day" ? dropBounds.rawFrom : dropBounds.acceptFrom).getTime();
    for (const name of have) {
      const partition = parsePartition(table, name);
      if (partition && partition.end.getTime() <= dropBefore) plan.drop.push(partition);
    }
  }
  plan.drop.sort((a, b) => a.start.getTime() - b.start.getTime() || a.name.localeCompare(b.name));
  return plan;
}
