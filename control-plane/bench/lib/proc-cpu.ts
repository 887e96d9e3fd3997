import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ: 100 on every Linux we run on). */
const ticksPerSecond = 100;

interface ProcStat {
  ppid: number;
  /** utime + stime of the process itself, in seconds. */
  own: number;
  /** cutime + cstime: children that exited and were waited for, in seconds. */
  reaped: number;
}

async function procStat(pid: number): Promise<ProcStat | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    // The command name may contain spaces: fields start after the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const at = (index: number) => Number(fields[index]);
    return { ppid: at(1), own: (at(11) + at(12)) / ticksPerSecond, reaped: (at(13) + at(14)) / ticksPerSecond };
  } catch {
    return undefined;
  }
}

/** CPU seconds (user + system) a live process has used so far (Linux /proc). */
export async function processCpuSeconds(pid: number): Promise<number> {
  return (await procStat(pid))?.own ?? 0;
}

/**
 * CPU seconds used by a PostgreSQL server: the postmaster (its pid is the first line of
 * `<dataDir>/postmaster.pid`), its exited backends, and every live backend. Lets a benchmark
 * report the database's share of the machine next to the server's and the simulator's.
 */
export async function postgresCpuSeconds(dataDir: string): Promise<number> {
  const postmaster = Number((await readFile(join(dataDir, "postmaster.pid"), "utf8")).split("\n")[0]);
  const root = await procStat(postmaster);
  if (!root) return 0;
  let total = root.own + root.reaped;
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await procStat(Number(entry));
    if (stat?.ppid === postmaster) total += stat.own;
  }
  return total;
}
