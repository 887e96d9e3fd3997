export type { BucketLimits, RateLimitConfig } from "./token-bucket.ts";
export { defaultRateLimits, RequestLimiter, retryIn, TokenBuckets } from "./token-bucket.ts";
