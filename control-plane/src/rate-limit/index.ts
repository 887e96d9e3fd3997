export type { BucketLimits, RateLimitConfig } from "./token-bucket.ts";
export { defaultRateLimits, RequestLimiter, TokenBuckets } from "./token-bucket.ts";
