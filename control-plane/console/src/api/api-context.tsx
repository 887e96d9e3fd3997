import type { Principal } from "@avtech/proto/gen/avtech/auth/v1/auth_pb.js";
import type { Transport } from "@connectrpc/connect";
import { createContext, useContext } from "react";
import type { FleetStore } from "../fleet/fleet-store.ts";
import type { TokenStore } from "./session.ts";

/** What every page needs: where the API is, the session, and the live fleet. */
export interface ApiContextValue {
  baseUrl: string;
  transport: Transport;
  tokens: TokenStore;
  principal: Principal;
  fleet: FleetStore;
  signOut: () => void;
}

/** Provided by the signed-in shell. */
export const ApiContext = createContext<ApiContextValue | undefined>(undefined);

/** The signed-in context; throws when used outside the shell (a programming error). */
export function useApi(): ApiContextValue {
  const value = useContext(ApiContext);
  if (!value) throw new Error("useApi() must be used inside the signed-in shell (ApiContext)");
  return value;
}
