export type {
  DesiredStateDiff,
  DesiredStateSources,
  PlaylistClip,
  PlaylistRecord,
  RuleRecord,
  ScreenFacts,
  Selection,
  SharedContent,
  TargetSelector,
} from "./build.ts";
export {
  buildDesiredState,
  contentHash,
  diffDesiredStates,
  selectFor,
  sharedContent,
  stampVersion,
  targetSelects,
} from "./build.ts";
export type { BuiltDocument, SplitDocument } from "./documents.ts";
export { DocumentDiffer, DocumentFactory, splitEncodedDocument } from "./documents.ts";
