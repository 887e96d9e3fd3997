export { pairingChecklist } from "./checklist.ts";
