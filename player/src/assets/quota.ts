/** One file the cache holds, as the quota sees it. */
export interface QuotaEntry {
  sha256: string;
  /** Bytes on disk (a part file counts with its current size). */
  bytes: number;
  /** Referenced by the playing or the target state: never evicted. */
  referenced: boolean;
  /** Epoch ms of the last play start; 0 when never played (evicted first). */
  lastPlayedAt: number;
}

/** Input of {@link planQuota}. */
export interface QuotaInput {
  entries: readonly QuotaEntry[];
  /** Bytes still to download for referenced assets (size minus what their part files hold). */
  missingBytes: number;
  /** Bytes of every asset the target state references (reported as needed_bytes). */
  neededBytes: number;
  /** Free bytes of the media filesystem now. */
  freeBytes: number;
  maxMediaBytes: number;
  minFreeBytes: number;
}

/** The quota's verdict. */
export type QuotaPlan =
  | { type: "Fits"; evict: string[] }
  | { type: "Exceeded"; neededBytes: number; availableBytes: number; evict: string[] };

/**
 * Decides which unreferenced files to evict, least recently played first, so that after the
 * missing downloads `media ≤ maxMediaBytes` and `free ≥ minFreeBytes`. Never picks a referenced
 * file. When even evicting every unreferenced file is not enough, returns Exceeded with what the
 * target needs and what the limits allow (`availableBytes`), and still evicts only as far as
 * the limits for what is present require.
 */
export function planQuota(input: QuotaInput): QuotaPlan {
  const candidates = input.entries.filter((e) => !e.referenced).sort(byLeastRecentlyPlayed);
  const mediaBytes = input.entries.reduce((sum, e) => sum + e.bytes, 0);
  const evictableBytes = candidates.reduce((sum, e) => sum + e.bytes, 0);
  const presentReferenced = mediaBytes - evictableBytes;
  const availableBytes = Math.max(
    0,
    Math.min(input.maxMediaBytes, presentReferenced + input.freeBytes + evictableBytes - input.minFreeBytes),
  );
  const fits = presentReferenced + input.missingBytes <= availableBytes;
  const growth = fits ? input.missingBytes : 0;

  const evict: string[] = [];
  let media = mediaBytes + growth;
  let free = input.freeBytes - growth;
  for (const entry of candidates) {
    if (media <= input.maxMediaBytes && free >= input.minFreeBytes) break;
    evict.push(entry.sha256);
    media -= entry.bytes;
    free += entry.bytes;
  }
  if (fits) return { type: "Fits", evict };
  return { type: "Exceeded", neededBytes: input.neededBytes, availableBytes, evict };
}

function byLeastRecentlyPlayed(a: QuotaEntry, b: QuotaEntry): number {
  return a.lastPlayedAt - b.lastPlayedAt || (a.sha256 < b.sha256 ? -1 : 1);
}
