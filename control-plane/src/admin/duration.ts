import { AdminCommandError } from "./commands.ts";

const unitMs = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * Milliseconds of a duration as operators type it: one or more `<number><unit>` parts with the
 * units s, m, h and d, e.g. `90s`, `10m`, `1h30m`, `2d`. Anything else is an {@link AdminCommandError}
 * naming the flag and giving examples.
 */
export function parseDuration(text: string, flag: string): number {
  const parts = /^(\d+[smhd])+$/.test(text) ? text.match(/\d+[smhd]/g) : null;
  if (!parts) {
    throw new AdminCommandError(
      `${flag} "${text}" is not a duration: use a number and a unit s, m, h or d, e.g. 10m, 1h30m, 2d`,
    );
  }
  let total = 0;
  for (const part of parts) {
    total += Number(part.slice(0, -1)) * unitMs[part.at(-1) as keyof typeof unitMs];
  }
  if (total <= 0) throw new AdminCommandError(`${flag} must be longer than 0, got "${text}"`);
  return total;
}

/** "3 min", "2 h 5 min", "4 d 1 h": how long ago, to the two largest units. */
export function formatAge(ms: number): string {
  if (ms < 60_000) return `${Math.max(0, Math.round(ms / 1000))} s`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
  const days = Math.floor(hours / 24);
  return hours % 24 ? `${days} d ${hours % 24} h` : `${days} d`;
}
