export type {
  DesiredStateDiff,
  DesiredStateSources,
  PlaylistClip,
  PlaylistRecord,
  RuleRecord,
  ScreenFacts,
  TargetSelector,
} from "./build.ts";
export { buildDesiredState, contentHash, diffDesiredStates, stampVersion, targetSelects } from "./build.ts";
