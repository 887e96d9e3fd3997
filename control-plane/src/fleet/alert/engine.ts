import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { Clock } from "../../platform/clock.ts";
import { type RetryPolicy, retryDelayMs, type Senders } from "./delivery.ts";
import type { AlertMetrics } from "./metrics.ts";
import { type NotificationPolicy, planAlerts, planNotifications } from "./plan.ts";
import type { AlertStore, PassResult } from "./ports.ts";

/** The engine's settings (`alerts.*` in the config). */
export interface AlertEngineSettings extends NotificationPolicy {
  /** Notifications per channel per minute, at most (beyond it changes are folded into one). */
  maxPerMinute: number;
  retry: RetryPolicy;
  /** One delivery attempt's time limit. */
  deliveryTimeoutMs: number;
}

/** What {@link AlertEngine} uses. */
export interface AlertEngineDeps {
  store: AlertStore;
  senders: Senders;
  clock: Clock;
  logger: Logger;
  settings: AlertEngineSettings;
  metrics: AlertMetrics;
  /** Jitter source; default Math.random. */
  random?: () => number;
}

/** What one {@link AlertEngine.deliver} did. */
export interface DeliveryResult {
  delivered: number;
  retried: number;
  dead: number;
}

/** Deliveries claimed per round. */
const claimBatch = 50;
/** Delivered rows are kept this long: the per-minute bound counts them, then they go. */
const deliveredKeptMs = 24 * 3_600_000;

/**
 * Evaluates the alert rules and delivers notifications.
 *
 * INVARIANTS:
 * - One evaluation at a time across replicas (the store's advisory lock); an alert's opening and
 *   its outbox rows commit together, so a crash loses or repeats neither.
 * - A delivery is claimed before it is sent (attempt counted, next attempt one lease ahead, rows
 *   another replica is claiming skipped) and its outcome written after: delivery is at least
 *   once. A process that dies between the receiver's answer and that write sends it again after
 *   the lease, with the same notification id (X-AVTech-Delivery) for the receiver to drop.
 * - {@link start}'s ticks never overlap within a process.
 */
export class AlertEngine {
  readonly #deps: AlertEngineDeps;

  constructor(deps: AlertEngineDeps) {
    this.#deps = deps;
  }

  /** One evaluation at the clock's now; undefined when another replica is evaluating. */
  async evaluate(): Promise<PassResult | undefined> {
    const { store, clock, settings, metrics } = this.#deps;
    const now = clock.now();
    const started = performance.now();
    const result = await store.runPass(now, settings.maxPerMinute, {
      alerts: (screens, rulesOf, open) => planAlerts(screens, rulesOf, open, now),
      notifications: (pending, budgetOf) => planNotifications(pending, budgetOf, now, settings, randomUUID),
    });
    metrics.evaluated(result, (performance.now() - started) / 1000);
    return result;
  }

  /** Sends every due delivery once (in rounds of 50, each round's in parallel) and records each outcome. */
  async deliver(signal?: AbortSignal): Promise<DeliveryResult> {
    const { store, clock, settings, senders, logger } = this.#deps;
    const result: DeliveryResult = { delivered: 0, retried: 0, dead: 0 };
    const leaseMs = settings.deliveryTimeoutMs * 3;
    // Each row is tried once per call: a retry whose jittered delay came out near zero waits for
    // the next tick instead of spending its attempts in this loop.
    const tried: string[] = [];
    for (;;) {
      signal?.throwIfAborted();
      const items = await store.claimDue(clock.now(), leaseMs, claimBatch, tried);
      tried.push(...items.map((item) => item.id));
      await Promise.all(
        items.map(async (item) => {
          const timeout = AbortSignal.timeout(settings.deliveryTimeoutMs);
          try {
            await senders[item.target.kind](item, signal ? AbortSignal.any([signal, timeout]) : timeout);
            await store.markDelivered(item.id, clock.now());
            result.delivered++;
          } catch (error) {
            // Shutting down: leave the claim to expire, the next process retries it.
            if (signal?.aborted) return;
            const now = clock.now();
            const dead = item.attempt >= settings.retry.maxAttempts;
            const retryAt = dead
              ? undefined
              : new Date(now.getTime() + retryDelayMs(item.attempt, settings.retry, this.#deps.random));
            const reason = (error as Error).message;
            await store.markFailed(item.id, now, reason, retryAt);
            logger.warn(
              { outbox: item.id, channel: item.channelId, attempt: item.attempt, dead, reason },
              "alert delivery failed",
            );
            if (dead) result.dead++;
            else result.retried++;
          }
        }),
      );
      if (items.length < claimBatch) {
        this.#deps.metrics.delivered(result);
        return result;
      }
    }
  }

  /**
   * Evaluates and delivers every `everyMs` (the first tick at once), and prunes old delivered rows
   * hourly; returns the stop function, which also aborts deliveries in flight.
   */
  start(everyMs: number): () => void {
    const { logger, store, clock } = this.#deps;
    const abort = new AbortController();
    let running = false;
    let lastPrune = 0;
    const tick = async () => {
      if (running) return;
      running = true;
      try {
        await this.evaluate();
        await this.deliver(abort.signal);
        const now = clock.now().getTime();
        if (now - lastPrune > 3_600_000) {
          lastPrune = now;
          await store.pruneDelivered(new Date(now - deliveredKeptMs));
        }
      } catch (error) {
        if (!abort.signal.aborted) logger.error({ err: error }, "alert engine tick failed");
      } finally {
        running = false;
      }
    };
    const timer = setInterval(() => void tick(), everyMs);
    timer.unref();
    void tick();
    return () => {
      clearInterval(timer);
      abort.abort();
    };
  }
}
