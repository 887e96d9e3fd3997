export { bundlePathPrefix, bundleUrl } from "./bundle-url.ts";
export type { ReportingScreen, RolloutEngineDeps } from "./engine.ts";
export { RolloutEngine } from "./engine.ts";
export { PgUpdateStore } from "./pg-store.ts";
export type {
  PhaseTally,
  PlannedWave,
  RolloutCommand,
  RolloutSnapshot,
  RolloutStep,
  ScreenOutcome,
  ScreenUpdateState,
  WaveSnapshot,
} from "./plan.ts";
export {
  applyHello,
  applyReport,
  commandStep,
  defaultMaxFailurePercent,
  defaultWavePercents,
  nextStep,
  planWaves,
  wavePercentsProblem,
} from "./plan.ts";
export type * from "./ports.ts";
export type { BundleCheck, BundleInfo, BundleProblem, BundleVerifier } from "./rauc.ts";
export { createRaucVerifier, VerifierUnavailable } from "./rauc.ts";
export type { ReleaseIngestDeps } from "./release-ingest.ts";
export { ingestRelease, maxNotesLength } from "./release-ingest.ts";
export type { BundleRouteDeps, ReleaseUploadRouteDeps } from "./routes.ts";
export { createBundleRoute, createReleaseUploadRoute } from "./routes.ts";
export type { UpdateServiceDeps } from "./service.ts";
export { createUpdateService, releaseToProto, rolloutToProto, screenUpdateToProto, updateWriters } from "./service.ts";
