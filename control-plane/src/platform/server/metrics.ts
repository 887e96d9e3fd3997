import { ConnectError, type Interceptor } from "@connectrpc/connect";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { codeName } from "../audit/audit.ts";
import { observe } from "./observe.ts";

/** The control plane's Prometheus metrics, on a registry of their own (one per server instance). */
export interface ServerMetrics {
  registry: Registry;
  /** Counts RPCs and their latency by procedure and result code. */
  interceptor: Interceptor;
  /** Counts an upload's outcome and the bytes newly stored. */
  upload(outcome: "stored" | "deduplicated" | "rejected", bytes: number): void;
}

/** One tenant's totals, read from the database at scrape time. */
export interface TenantTotals {
  /** The tenant's slug: the `tenant` label. */
  tenant: string;
  storedBytes: number;
  storageQuotaBytes: number;
  screens: number;
}

/**
 * Creates the metrics. `tenantTotals` is read at scrape time (sums in the database), so the
 * gauges are right across replicas and restarts: every replica reports the same fleet-wide value
 * (aggregate them across replicas with `max`, not `sum`).
 */
export function createServerMetrics(tenantTotals: () => Promise<readonly TenantTotals[]>): ServerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: "avtech_rpc_requests_total",
    help: "RPCs handled, by procedure and result code",
    labelNames: ["procedure", "code"],
    registers: [registry],
  });
  const latency = new Histogram({
    name: "avtech_rpc_duration_seconds",
    help: "RPC latency, by procedure and result code",
    labelNames: ["procedure", "code"],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const uploads = new Counter({
    name: "avtech_uploads_total",
    help: "Video uploads, by outcome",
    labelNames: ["outcome"],
    registers: [registry],
  });
  const uploadBytes = new Counter({
    name: "avtech_upload_stored_bytes_total",
    help: "Bytes of newly stored (not deduplicated) uploads",
    registers: [registry],
  });
  // One query per scrape serves the four gauges below: the first to be collected reads, the others reuse it.
  let reading: Promise<readonly TenantTotals[]> | undefined;
  const totalsOfThisScrape = () => {
    reading ??= tenantTotals().finally(() => setTimeout(() => (reading = undefined), 1000).unref());
    return reading;
  };
  new Gauge({
    name: "avtech_stored_bytes",
    help: "Bytes of video stored, all tenants (sum of video sizes)",
    registers: [registry],
    async collect() {
      this.set((await totalsOfThisScrape()).reduce((sum, totals) => sum + totals.storedBytes, 0));
    },
  });
  new Gauge({
    name: "avtech_tenant_stored_bytes",
    help: "Bytes of video stored, by tenant (sum of video sizes)",
    labelNames: ["tenant"],
    registers: [registry],
    async collect() {
      this.reset();
      for (const totals of await totalsOfThisScrape()) this.set({ tenant: totals.tenant }, totals.storedBytes);
    },
  });
  new Gauge({
    name: "avtech_tenant_storage_quota_bytes",
    help: "Video storage quota, by tenant",
    labelNames: ["tenant"],
    registers: [registry],
    async collect() {
      this.reset();
      for (const totals of await totalsOfThisScrape()) this.set({ tenant: totals.tenant }, totals.storageQuotaBytes);
    },
  });
  new Gauge({
    name: "avtech_screens",
    help: "Screens (claimed), by tenant",
    labelNames: ["tenant"],
    registers: [registry],
    async collect() {
      this.reset();
      for (const totals of await totalsOfThisScrape()) this.set({ tenant: totals.tenant }, totals.screens);
    },
  });
  return {
    registry,
    interceptor: (next) => async (req) => {
      const started = process.hrtime.bigint();
      const procedure = `${req.service.typeName}/${req.method.name}`;
      return observe(req, next, (error) => {
        const code = error === undefined ? "ok" : codeName(ConnectError.from(error).code);
        requests.inc({ procedure, code });
        latency.observe({ procedure, code }, Number(process.hrtime.bigint() - started) / 1e9);
      });
    },
    upload(outcome, bytes) {
      uploads.inc({ outcome });
      if (outcome === "stored") uploadBytes.inc(bytes);
    },
  };
}
