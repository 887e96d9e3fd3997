import { type RefObject, useEffect, useRef, useState } from "react";
import {
  type AssetRanking,
  type AssetTotal,
  countTicks,
  formatSeconds,
  percent,
  type ScreenUptime,
  type TimeBucket,
  timeAxisLabels,
} from "./shape.ts";

/*
 * The Reports page's charts, drawn as SVG by React (no chart library: bars and text are all they
 * need, and SVG text is real text for screen readers, find-in-page and the browser tests). Each
 * bar carries a <title> with its exact value, shown on hover.
 */

/** The width of an element in CSS pixels, followed as it resizes (`fallback` before the first layout). */
function useWidth(fallback: number): [RefObject<HTMLDivElement | null>, number] {
  const ref = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(fallback);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const observer = new ResizeObserver(() => setWidth(el.clientWidth || fallback));
    observer.observe(el);
    return () => observer.disconnect();
  }, [fallback]);
  return [ref, width];
}

/**
 * Plays per bucket as vertical bars, with a count axis and a label under every few bars. Drawn in
 * CSS pixels at the figure's width (not a scaled viewBox), so text keeps its size on any screen.
 */
export function PlaysTimeline({ buckets, caption }: { buckets: readonly TimeBucket[]; caption: string }) {
  const [box, width] = useWidth(720);
  const height = 220;
  const left = 40;
  const right = 8;
  const bottom = 28;
  const top = 8;
  const plotWidth = Math.max(1, width - left - right);
  const plotHeight = height - top - bottom;
  const grid = countTicks(Math.max(0, ...buckets.map((b) => b.plays)));
  const max = grid.at(-1) ?? 1;
  const slot = plotWidth / Math.max(1, buckets.length);
  // About one label per 70 px, so they never overlap.
  const labels = timeAxisLabels(buckets, Math.floor(plotWidth / 70));
  const total = buckets.reduce((sum, b) => sum + b.plays, 0);
  const y = (value: number) => top + plotHeight - (value / max) * plotHeight;
  return (
    <figure className="report-chart">
      <figcaption className="sr-only">{caption}</figcaption>
      <div ref={box}>
        <svg width={width} height={height} role="img" aria-label={`${caption}: ${total} plays in total`}>
          {grid.map((tick) => (
            <g key={tick} className="axis">
              <line x1={left} x2={width - right} y1={y(tick)} y2={y(tick)} />
              <text x={left - 6} y={y(tick) + 4} textAnchor="end">
                {tick}
              </text>
            </g>
          ))}
          {buckets.map((bucket, n) => (
            <g key={bucket.key} className="bar">
              <title>{`${bucket.label}: ${bucket.plays} ${bucket.plays === 1 ? "play" : "plays"}, ${formatSeconds(bucket.seconds)}`}</title>
              {/* A full-height, transparent hit area, so an empty bucket still shows its tooltip. */}
              <rect className="hit" x={left + n * slot} y={top} width={slot} height={plotHeight} />
              <rect
                className="fill"
                x={left + n * slot + slot * 0.15}
                y={y(bucket.plays)}
                width={Math.max(1, slot * 0.7)}
                height={top + plotHeight - y(bucket.plays)}
              />
              {labels.has(n) && (
                <text className="axis-label" x={left + n * slot + slot / 2} y={height - 8} textAnchor="middle">
                  {labels.get(n)}
                </text>
              )}
            </g>
          ))}
        </svg>
      </div>
    </figure>
  );
}

/** A bar's length as a share of its track: an SVG that stretches to its grid cell. */
function Bar({ parts }: { parts: ReadonlyArray<{ className: string; share: number }> }) {
  let x = 0;
  return (
    <svg className="bar-track" viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true">
      <rect className="track" x={0} y={0} width={100} height={10} />
      {parts.map((part) => {
        const w = Math.max(0, Math.min(100 - x, part.share * 100));
        const segment = <rect key={part.className} className={part.className} x={x} y={0} width={w} height={10} />;
        x += w;
        return segment;
      })}
    </svg>
  );
}

/** The top assets as horizontal bars, longest first, with the ranked value at the end of each. */
export function AssetBars({ assets, by }: { assets: readonly AssetTotal[]; by: AssetRanking }) {
  const max = Math.max(1, ...assets.map((a) => a[by]));
  return (
    <ol className="report-bars" aria-label="Top assets">
      {assets.map((asset) => (
        <li key={asset.id} title={`${asset.name}: ${asset.plays} plays, ${formatSeconds(asset.seconds)} played`}>
          <span className="bar-name">{asset.name}</span>
          <Bar parts={[{ className: "fill", share: asset[by] / max }]} />
          <span className="bar-value">
            {by === "plays" ? `${asset.plays} ${asset.plays === 1 ? "play" : "plays"}` : formatSeconds(asset.seconds)}
          </span>
        </li>
      ))}
    </ol>
  );
}

/** What each part of an uptime bar is, in the order drawn. */
export const uptimeParts = [
  { key: "playing", label: "Online, playing" },
  { key: "displayOff", label: "Display off" },
  { key: "idle", label: "Online, not playing" },
  { key: "offline", label: "Offline" },
] as const;

/** One stacked bar per screen: its tracked time split into playing, display off, idle and offline. */
export function UptimeBars({ screens }: { screens: readonly ScreenUptime[] }) {
  return (
    <ol className="report-bars" aria-label="Screens by uptime">
      {screens.map((screen) => {
        const summary = uptimeParts
          .map((part) => `${percent(screen[part.key], screen.tracked)} % ${part.label.toLowerCase()}`)
          .join(", ");
        return (
          <li key={screen.screenId} title={`${screen.name}: ${summary} (of ${formatSeconds(screen.tracked)} recorded)`}>
            <span className="bar-name">{screen.name}</span>
            <Bar
              parts={uptimeParts.map((part) => ({
                className: `seg-${part.key}`,
                share: screen.tracked > 0 ? screen[part.key] / screen.tracked : 0,
              }))}
            />
            <span className="bar-value">{`${percent(screen.playing, screen.tracked)} % playing`}</span>
            <span className="sr-only">{summary}</span>
          </li>
        );
      })}
    </ol>
  );
}
