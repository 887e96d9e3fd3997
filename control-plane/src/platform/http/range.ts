/**
 * One `bytes=` range (the only kind players send): a range, an open-ended start or a suffix.
 * undefined = ignore the header (malformed or several ranges: serve the whole file, as RFC 9110
 * allows). Screens' `/assets/<sha256>` and the console's `/v1/videos/<id>/file` both read it.
 */
export function parseRange(header: string, size: number): { start: number; end: number } | "unsatisfiable" | undefined {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match) return undefined;
  const [, from = "", to = ""] = match;
  if (from === "" && to === "") return undefined;
  if (from === "") {
    const suffix = Number(to);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(from);
  const end = to === "" ? size - 1 : Math.min(Number(to), size - 1);
  if (start >= size) return "unsatisfiable";
  if (end < start) return undefined;
  return { start, end };
}
