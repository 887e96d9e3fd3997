export type { EnrollmentKey, EnrollmentKeyRequest } from "./enroll.ts";
export { createEnrollmentKey } from "./enroll.ts";
