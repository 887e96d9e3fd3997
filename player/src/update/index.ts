export type { UpdateManagerDeps, UpdateManagerOptions, UpdateReporter, UpdateStatus } from "./manager.ts";
export { UpdateManager } from "./manager.ts";
export type {
  RebootWindow,
  SystemView,
  UpdateCurrent,
  UpdatePlanContext,
  UpdateStep,
  UpdateStepAction,
  UpdateTarget,
} from "./plan.ts";
export {
  afterInstall,
  downloadFailed,
  downloadRetry,
  finalFailure,
  planUpdate,
  rebootWindow,
  sameUpdate,
} from "./plan.ts";
export type { RaucCliOptions } from "./rauc-cli.ts";
export { classifyInstallError, createRaucCli, parseProgressLine, parseRaucStatus } from "./rauc-cli.ts";
export type { RunningSlotDeps, RunningSlotOutcome } from "./running-slot.ts";
export { confirmRunningSlot } from "./running-slot.ts";
export type { FailureReason, LoadedRecord, UpdatePhaseName, UpdateRecord } from "./store.ts";
export { failureReasons, UpdateStore, updatePhases } from "./store.ts";
export { playbackClipBoundaries, playingByDesign, readImageVersion, requestFileRebooter } from "./system.ts";
export type {
  ClipBoundaries,
  HealthProbe,
  InstallFailureReason,
  InstallResult,
  Rauc,
  RaucSlot,
  RaucStatus,
  Rebooter,
} from "./types.ts";
export { RaucUnavailable } from "./types.ts";
