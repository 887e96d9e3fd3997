/**
 * Several control-plane replicas on one PostgreSQL behind HAProxy, on one machine (`make cluster`
 * and the cluster's fault tests). The replicas are the ordinary control-plane process
 * (src/main.ts); LISTEN/NOTIFY carries publishes and commands to the replica holding a screen.
 */
export type { BackendServer, HaproxySettings } from "./haproxy.ts";
export { readHaproxyTemplate, renderHaproxyConfig } from "./haproxy.ts";
export type { Cluster, ClusterOptions, Replica } from "./launcher.ts";
export { startCluster } from "./launcher.ts";
export type { ManagedProcess, ProcessExit } from "./process.ts";
