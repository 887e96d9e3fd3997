import { useEffect, useRef, useState } from "react";

/**
 * `value`, but changing at most once per `ms`: the latest value is applied when the interval
 * since the previous change has passed, so bursts collapse into one update.
 */
export function useThrottled<T>(value: T, ms: number): T {
  const [throttled, setThrottled] = useState(value);
  const last = useRef(0);
  useEffect(() => {
    const apply = () => {
      last.current = performance.now();
      setThrottled(value);
    };
    const wait = last.current + ms - performance.now();
    if (wait <= 0) {
      apply();
      return;
    }
    const timer = setTimeout(apply, wait);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return throttled;
}

/** The current time in ms, refreshed every `ms` (for "5 min ago" labels). */
export function useNow(ms: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(timer);
  }, [ms]);
  return now;
}
