export type { Check, DoctorOptions } from "./doctor.ts";
export { formatChecks, runDoctor } from "./doctor.ts";
