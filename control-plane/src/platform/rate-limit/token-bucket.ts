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
    return this.acquire(key) === 0;
  }

  /**
   * Takes one token for `key` and returns 0, or, when its bucket is empty, takes nothing and
   * returns the milliseconds until a token is available (Infinity when the bucket never refills).
   */
  acquire(key: string): number {
    const now = this.#now();
    const bucket = this.#buckets.get(key) ?? { tokens: this.#limits.burst, at: now };
    bucket.tokens = Math.min(this.#limits.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.#limits.perSecond);
    bucket.at = now;
    this.#buckets.set(key, bucket);
    if (bucket.tokens < 1) {
      return this.#limits.perSecond > 0 ? Math.ceil(((1 - bucket.tokens) / this.#limits.perSecond) * 1000) : Infinity;
    }
    bucket.tokens -= 1;
    if (this.#buckets.size > 10_000) this.#sweep(now);
    return 0;
  }

  #sweep(now: number): void {
    for (const [key, bucket] of this.#buckets) {
      if (bucket.tokens + ((now - bucket.at) / 1000) * this.#limits.perSecond >= this.#limits.burst) {
        this.#buckets.delete(key);
      }
    }
  }
}

/** "retry in 7 s" for a wait in milliseconds (whole seconds, rounded up). */
export function retryIn(waitMs: number): string {
  return Number.isFinite(waitMs) ? `retry in ${Math.max(1, Math.ceil(waitMs / 1000))} s` : "retry much later";
}

/** Limits for an unauthenticated endpoint: per client IP and for everyone together. */
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

/**
 * Per-IP plus global limiter for one unauthenticated endpoint; throws RESOURCE_EXHAUSTED, saying
 * when to retry, when either bucket is empty. A request refused per IP does not use a global token,
 * so one noisy address cannot drain the bucket everyone shares any faster than its own allows.
 */
export class RequestLimiter {
  readonly #perIp: TokenBuckets;
  readonly #global: TokenBuckets;
  readonly #busy: string;

  /**
   * @param busy what the global refusal says the server is busy with, e.g. "registering screens".
   */
  constructor(config: RateLimitConfig = defaultRateLimits, now: () => number = Date.now, busy = "registering screens") {
    this.#perIp = new TokenBuckets(config.perIp, now);
    this.#global = new TokenBuckets(config.global, now);
    this.#busy = busy;
  }

  /** Counts one request from `ip`. */
  check(ip: string): void {
    const ipWait = this.#perIp.acquire(ip);
    if (ipWait > 0) {
      throw new ConnectError(
        `too many requests from this address; ${retryIn(ipWait)} (with backoff)`,
        Code.ResourceExhausted,
      );
    }
    const globalWait = this.#global.acquire("*");
    if (globalWait > 0) {
      throw new ConnectError(`the control plane is busy ${this.#busy}; ${retryIn(globalWait)}`, Code.ResourceExhausted);
    }
  }
}
