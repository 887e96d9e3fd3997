export type { EnrollmentKey, EnrollmentKeyInfo, EnrollmentKeyRequest, EnrollmentKeyStateName } from "./enroll.ts";
export { createEnrollmentKey, listEnrollmentKeys, revokeEnrollmentKey } from "./enroll.ts";
export type { KeyByName } from "./keys.ts";
export { keyByName, keysJson, keyTable } from "./keys.ts";
