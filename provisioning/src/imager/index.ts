export type { ImagerDevice, ImagerEntry, ImagerEntryInput } from "./imager.ts";
export { imagerEntry, imagerRepository } from "./imager.ts";
