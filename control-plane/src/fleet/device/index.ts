export type { LiveDeliveryDeps } from "./delivery.ts";
export { deliveryBatchSize, LiveDelivery } from "./delivery.ts";
export { authenticateScreen } from "./device-token.ts";
export type { PingSweepOptions } from "./keepalive.ts";
export { startPingSweep } from "./keepalive.ts";
export type { DeviceServiceDeps } from "./service.ts";
export { createDeviceService } from "./service.ts";
