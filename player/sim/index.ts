export type { FleetSimulator, FleetSimulatorOptions, FleetSimulatorStats, SimulatedScreen } from "./simulator.ts";
export { startFleetSimulator } from "./simulator.ts";
