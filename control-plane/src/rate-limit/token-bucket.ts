import { Code, ConnectError } from "@connectrpc/connect";

/** Size and refill of one bucket. */
export interface BucketLimits {
  /** Requests allowed in a burst. */
  burst: number;
  /** Tokens added per second. */
  perSecond: number;
}

/**
 * Token buckets by key (an IP, a tenant, or one global key). Idle buckets that have refilled
 * completely are dropped, so memory stays bounded by the keys active in the last burst/perSecond
 * seconds.
 */
export class TokenBuckets {
  readonly #limits: BucketLimits;
  readonly #now: () => number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(limits: BucketLimits, now: () => number = Date.now) {
    this.#limits = limits;
    this.#now = now;
  }

  /** Takes one token for `key`; false when its bucket is empty. */
  take(key: string): boolean {
    const now = this.#now();
    const bucket = this.#buckets.get(key) ?? { tokens: this.#limits.burst, at: now };
    bucket.tokens = Math.min(this.#limits.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.#limits.perSecond);
    bucket.at = now;
    if (bucket.tokens < 1) {
      this.#buckets.set(key, bucket);
      return false;
    }
    bucket.tokens -= 1;
    this.#buckets.set(key, bucket);
    if (this.#buckets.size > 10_000) this.#sweep(now);
    return true;
  }

  #sweep(now: number): void {
    for (const [key, bucket] of this.#buckets) {
      if (bucket.tokens + ((now - bucket.at) / 1000) * this.#limits.perSecond >= this.#limits.burst) {
        this.#buckets.delete(key);
      }
    }
  }
}

/** Limits for unauthenticated endpoints: per client IP and for everyone together. */
export interface RateLimitConfig {
  perIp: BucketLimits;
  global: BucketLimits;
}

/**
 * Defaults: a screen registers rarely, but a site of screens behind one NAT may boot together
 * after a power cut (and they retry with backoff); the global bucket bounds a distributed flood.
 */
export const defaultRateLimits: RateLimitConfig = {
  perIp: { burst: 60, perSecond: 1 },
  global: { burst: 500, perSecond: 100 },
};

/** Per-IP plus global limiter; throws RESOURCE_EXHAUSTED when either is empty. */
export class RequestLimiter {
  readonly #perIp: TokenBuckets;
  readonly #global: TokenBuckets;

  constructor(config: RateLimitConfig = defaultRateLimits, now: () => number = Date.now) {
    this.#perIp = new TokenBuckets(config.perIp, now);
    this.#global = new TokenBuckets(config.global, now);
  }

  /** Counts one request from `ip`. */
  check(ip: string): void {
    if (!this.#perIp.take(ip)) {
      throw new ConnectError("too many requests from this address; retry later with backoff", Code.ResourceExhausted);
    }
    if (!this.#global.take("*")) {
      throw new ConnectError("the control plane is busy registering screens; retry later", Code.ResourceExhausted);
    }
  }
}
