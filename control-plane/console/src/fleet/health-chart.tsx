import type { HealthPoint } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

/** One health series to chart. */
export interface HealthSeries {
  label: string;
  unit: string;
  color: string;
  value: (p: HealthPoint) => number;
}

/**
 * A 24-hour line chart of one health metric (uPlot: canvas, ~50 KB, fast with thousands of
 * points). The chart keeps its box size while data loads, so the page does not jump.
 */
export function HealthChart({ points, series }: { points: readonly HealthPoint[]; series: HealthSeries }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const xs = points.map((p) => (p.at ? timestampDate(p.at).getTime() / 1000 : 0));
    const ys = points.map(series.value);
    const plot = new uPlot(
      {
        width: el.clientWidth || 400,
        height: 160,
        legend: { show: false },
        cursor: { drag: { x: false, y: false } },
        // A fixed 24 h window: with one or two points uPlot would otherwise widen the axis to years.
        scales: {
          x: {
            time: true,
            range: () => {
              const now = Date.now() / 1000;
              return [now - 86_400, now];
            },
          },
        },
        axes: [
          { stroke: "#6b7280", grid: { stroke: "#eef0f3" } },
          {
            stroke: "#6b7280",
            grid: { stroke: "#eef0f3" },
            size: 68,
            values: (_u, vals) => vals.map((v) => `${v}${series.unit}`),
          },
        ],
        series: [{}, { label: series.label, stroke: series.color, width: 2, fill: `${series.color}22` }],
      },
      [xs, ys],
      el,
    );
    const resize = new ResizeObserver(() => plot.setSize({ width: el.clientWidth, height: 160 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [points, series]);
  return (
    <figure className="chart">
      <figcaption>{series.label}</figcaption>
      <div ref={box} className="chart-box" role="img" aria-label={`${series.label} over the last 24 hours`} />
    </figure>
  );
}
