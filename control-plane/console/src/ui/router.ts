import { useEffect, useState } from "react";

/**
 * The current hash route split into segments: "#/screens/abc" → ["screens", "abc"]. Hash routing
 * means the server only has to serve index.html at `/`, with no fallback rules for deep links.
 */
export function useHashRoute(): string[] {
  const [hash, setHash] = useState(window.location.hash);
  useEffect(() => {
    const onChange = () => setHash(window.location.hash);
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
}

/** The href of a route, e.g. href("screens", id). */
export function href(...segments: string[]): string {
  return `#/${segments.map(encodeURIComponent).join("/")}`;
}
