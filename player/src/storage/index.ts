export type { WriteAtomicOptions } from "./atomic.ts";
export { fsyncDir, isAtomicTempName, readFileIfExists, writeFileAtomic } from "./atomic.ts";
export type { SystemError } from "./errors.ts";
export { isAbortError, isDiskError, isEEXIST, isENOENT, isENOSPC, isSystemError, messageOf } from "./errors.ts";
export type { StateLayout } from "./layout.ts";
export { layoutVersion, prepareLayout, stateLayout } from "./layout.ts";
export type { StoredCredentials } from "./token.ts";
export { loadCredentials, saveCredentials } from "./token.ts";
