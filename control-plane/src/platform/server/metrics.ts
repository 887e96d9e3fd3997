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

/**
 * Creates the metrics. `storedBytes` is read at scrape time (a sum in the database), so the
 * gauge is right across replicas and restarts.
 */
export function createServerMetrics(storedBytes: () => Promise<number>): ServerMetrics {
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
  new Gauge({
    name: "avtech_stored_bytes",
    help: "Bytes of video stored, all tenants (sum of video sizes)",
    registers: [registry],
    async collect() {
      this.set(await storedBytes());
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
