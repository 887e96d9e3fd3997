/** Why an asset could not be made present; mirrors device.v1 SyncFailureReason. */
export type AssetFailureReason =
  | "DOWNLOAD_FAILED"
  | "ASSET_NOT_FOUND"
  | "CHECKSUM_MISMATCH"
  | "QUOTA_EXCEEDED"
  | "DISK_ERROR"
  | "INVALID_STATE";

/** A failure the reconciler reports to the control plane (as a SyncFailure) and retries with backoff. */
export class AssetFailure extends Error {
  override name = "AssetFailure";
  readonly reason: AssetFailureReason;
  readonly assetSha256: string;
  readonly neededBytes: number;
  readonly availableBytes: number;

  constructor(
    reason: AssetFailureReason,
    message: string,
    details: { assetSha256?: string; neededBytes?: number; availableBytes?: number; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.reason = reason;
    this.assetSha256 = details.assetSha256 ?? "";
    this.neededBytes = details.neededBytes ?? 0;
    this.availableBytes = details.availableBytes ?? 0;
  }
}
