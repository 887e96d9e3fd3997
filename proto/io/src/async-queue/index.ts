export { AsyncQueue } from "./async-queue.ts";
