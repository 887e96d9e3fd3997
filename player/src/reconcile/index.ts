export { ExclusiveRunner } from "./exclusive-runner.ts";
export { planSteps, referencedAssets, stateProblems } from "./plan.ts";
export type {
  AppliedStateListener,
  ReconcilerDeps,
  ReconcilerStatus,
  StatePlayer,
  SyncReporter,
} from "./reconciler.ts";
export { Reconciler } from "./reconciler.ts";
export type { LoadedState } from "./state-store.ts";
export { StateStore } from "./state-store.ts";
export type { CurrentState, FailureReport, PlanContext, Step, StepAction } from "./steps.ts";
