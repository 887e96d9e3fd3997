import type { GetStorageUsageResponse } from "@avtech/proto/gen/avtech/content/v1/content_pb.js";
import { formatBytes } from "../ui/format.ts";

/** Used storage against the tenant's quota, as a meter with the numbers in words. */
export function StorageBar({ usage }: { usage: GetStorageUsageResponse | undefined }) {
  const used = Number(usage?.usedBytes ?? 0n);
  const quota = Number(usage?.quotaBytes ?? 0n);
  const percent = quota > 0 ? Math.min(100, (used / quota) * 100) : 0;
  return (
    <div className="storage" data-testid="storage">
      <div className="storage-text">
        <span>Storage</span>
        <span className="muted">
          {usage ? `${formatBytes(used)} of ${formatBytes(quota)} · ${usage.videoCount} clips` : "…"}
        </span>
      </div>
      <meter
        className="bar"
        aria-label="Storage used"
        min={0}
        max={100}
        low={75}
        high={90}
        optimum={0}
        value={percent}
        title={`${Math.round(percent)}% used`}
      />
    </div>
  );
}
