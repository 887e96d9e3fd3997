export { peerAddress, peerAddressKey, peerContextValues } from "./context.ts";
export type { LiveDeliveryDeps } from "./delivery.ts";
export { LiveDelivery } from "./delivery.ts";
export type { PingSweepOptions } from "./keepalive.ts";
export { startPingSweep } from "./keepalive.ts";
export type { DeviceServiceDeps } from "./service.ts";
export { createDeviceService } from "./service.ts";
