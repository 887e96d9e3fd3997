import { type HealthPoint, HealthPointSchema } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HealthSample } from "./ports.ts";

/**
 * Averages samples into at most `maxPoints` equal buckets between `from` and `to` (empty buckets
 * are left out, so gaps show as gaps in a chart).
 */
export function downsampleHealth(
  samples: readonly HealthSample[],
  from: Date,
  to: Date,
  maxPoints: number,
): HealthPoint[] {
  const spanMs = Math.max(1, to.getTime() - from.getTime());
  const bucketMs = Math.max(1, Math.ceil(spanMs / Math.max(1, maxPoints)));
  const buckets = new Map<number, { n: number; cpu: number; temp: number; mem: bigint; disk: bigint }>();
  for (const { at, health } of samples) {
    const index = Math.floor((at.getTime() - from.getTime()) / bucketMs);
    if (index < 0 || at >= to) continue;
    const bucket = buckets.get(index) ?? { n: 0, cpu: 0, temp: 0, mem: 0n, disk: 0n };
    bucket.n++;
    bucket.cpu += health.cpuLoadPercent;
    bucket.temp += health.cpuTemperatureCelsius;
    bucket.mem += health.memoryUsedBytes;
    bucket.disk += health.diskUsedBytes;
    buckets.set(index, bucket);
  }
  return [...buckets.entries()]
    .sort(([a], [b]) => a - b)
    .map(([index, b]) =>
      create(HealthPointSchema, {
        at: timestampFromDate(new Date(from.getTime() + index * bucketMs)),
        cpuLoadPercent: b.cpu / b.n,
        cpuTemperatureCelsius: b.temp / b.n,
        memoryUsedBytes: b.mem / BigInt(b.n),
        diskUsedBytes: b.disk / BigInt(b.n),
      }),
    );
}

/** Default retention of health samples. */
export const defaultHealthRetentionMs = 7 * 24 * 3600 * 1000;
