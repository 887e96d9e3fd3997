import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { DeliveryResult } from "./engine.ts";
import type { AlertBacklog, PassResult } from "./ports.ts";

/** What the alert engine reports to Prometheus. */
export interface AlertMetrics {
  /** One evaluation: what it changed (undefined: another replica held the lock) and how long it took. */
  evaluated(result: PassResult | undefined, seconds: number): void;
  /** One `deliver()` call's outcomes. */
  delivered(result: DeliveryResult): void;
}

/**
 * Registers the alert metrics on `registry` (the server's /metrics). The backlog gauges (open
 * alerts, deliveries waiting, dead letters, all tenants) are read from the database at scrape time.
 */
export function createAlertMetrics(registry: Registry, backlog: () => Promise<AlertBacklog>): AlertMetrics {
  const evaluations = new Counter({
    name: "avtech_alert_evaluations_total",
    help: "Alert rule evaluations by this process: evaluated, or skipped because another replica held the lock",
    labelNames: ["outcome"],
    registers: [registry],
  });
  const evaluationSeconds = new Histogram({
    name: "avtech_alert_evaluation_seconds",
    help: "Time of one alert evaluation pass (all screens, one transaction)",
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
    registers: [registry],
  });
  const changes = new Counter({
    name: "avtech_alert_changes_total",
    help: "Alerts opened, updated and resolved",
    labelNames: ["change"],
    registers: [registry],
  });
  const notifications = new Counter({
    name: "avtech_alert_notifications_total",
    help: "Notifications made (each goes to every channel of its tenant)",
    registers: [registry],
  });
  const deliveries = new Counter({
    name: "avtech_alert_deliveries_total",
    help: "Delivery attempts by outcome: delivered, retried (failed, tried again later), dead (failed the last attempt)",
    labelNames: ["outcome"],
    registers: [registry],
  });
  // One query per scrape serves the three gauges: the first to be collected reads, the others reuse it.
  let reading: Promise<AlertBacklog> | undefined;
  const read = () => {
    reading ??= backlog().finally(() => setTimeout(() => (reading = undefined), 1000).unref());
    return reading;
  };
  const gauge = (name: string, help: string, pick: (b: AlertBacklog) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        this.set(pick(await read()));
      },
    });
  gauge("avtech_alerts_open", "Open alerts, all tenants", (b) => b.open);
  gauge("avtech_alert_deliveries_pending", "Notification deliveries waiting or being retried", (b) => b.pending);
  gauge("avtech_alert_dead_letters", "Notifications that failed every attempt and wait for an admin", (b) => b.dead);
  return {
    evaluated(result, seconds) {
      evaluations.inc({ outcome: result ? "evaluated" : "skipped" });
      if (!result) return;
      evaluationSeconds.observe(seconds);
      changes.inc({ change: "opened" }, result.opened);
      changes.inc({ change: "updated" }, result.updated);
      changes.inc({ change: "resolved" }, result.resolved);
      notifications.inc(result.notifications);
    },
    delivered(result) {
      deliveries.inc({ outcome: "delivered" }, result.delivered);
      deliveries.inc({ outcome: "retried" }, result.retried);
      deliveries.inc({ outcome: "dead" }, result.dead);
    },
  };
}
