/**
 * @avtech/fleet-sim: simulated screens that enroll and hold real device streams against a control
 * plane, for the control plane's load tests and benches and for `make demo`. It lives in
 * player/sim (the simulator belongs with the player; the repository's top level is fixed) but is a
 * workspace of its own: it speaks the contracts (`@avtech/proto`) and shares none of the player's code.
 */

export type { SimulatedClip, SimulatedPlays } from "./plays.ts";
export { PlaySchedule } from "./plays.ts";
export type {
  FleetSimulator,
  FleetSimulatorOptions,
  FleetSimulatorStats,
  ReconnectPolicy,
  SimulatedScreen,
} from "./simulator.ts";
export { defaultReconnectPolicy, startFleetSimulator } from "./simulator.ts";
