import { AuthService, type Principal } from "@avtech/proto/gen/avtech/auth/v1/auth_pb.js";
import { createClient } from "@connectrpc/connect";
import { TransportProvider } from "@connectrpc/connect-query";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { useCallback, useEffect, useMemo, useState } from "react";
import { ApiContext, type ApiContextValue } from "./api/api-context.tsx";
import { createTokenStore } from "./api/session.ts";
import { createApiTransport } from "./api/transport.ts";
import { SignIn } from "./auth/sign-in.tsx";
import { FleetStore } from "./fleet/fleet-store.ts";
import { Shell } from "./shell.tsx";

/** Props of {@link App}. */
export interface AppProps {
  /** Origin of the control plane (the console is served by it). */
  baseUrl: string;
}

type SessionState =
  | { kind: "checking" }
  | { kind: "signedOut"; notice?: string }
  | { kind: "signedIn"; principal: Principal };

/**
 * The console root: restores a session from sessionStorage (WhoAmI), shows the sign-in form
 * otherwise, and once signed in provides the transport, the query cache and the live fleet.
 */
export function App({ baseUrl }: AppProps) {
  const tokens = useMemo(() => createTokenStore(), []);
  const [session, setSession] = useState<SessionState>(() =>
    tokens.get() ? { kind: "checking" } : { kind: "signedOut" },
  );
  const expire = useCallback(() => {
    tokens.clear();
    setSession({ kind: "signedOut", notice: "Your session has ended. Please sign in again." });
  }, [tokens]);
  const transport = useMemo(
    () => createApiTransport({ baseUrl, tokens, onUnauthenticated: expire }),
    [baseUrl, tokens, expire],
  );
  const queryClient = useMemo(
    () => new QueryClient({ defaultOptions: { queries: { staleTime: 5_000, retry: 1, refetchOnWindowFocus: false } } }),
    [],
  );
  const fleet = useMemo(() => new FleetStore((cb) => window.requestAnimationFrame(cb)), []);

  useEffect(() => {
    if (session.kind !== "checking") return;
    createClient(AuthService, transport)
      .whoAmI({})
      .then((r) => (r.principal ? setSession({ kind: "signedIn", principal: r.principal }) : expire()))
      .catch(() => {
        tokens.clear();
        setSession({ kind: "signedOut" });
      });
  }, [session.kind, transport, tokens, expire]);

  const signOut = useCallback(() => {
    // Revoke server-side, but sign out locally whatever the answer: the user asked to leave.
    createClient(AuthService, transport)
      .logout({})
      .catch(() => undefined)
      .finally(() => {
        tokens.clear();
        queryClient.clear();
        fleet.reset();
        setSession({ kind: "signedOut" });
      });
  }, [transport, tokens, queryClient, fleet]);

  const principal = session.kind === "signedIn" ? session.principal : undefined;
  const api = useMemo<ApiContextValue | undefined>(
    () => (principal ? { baseUrl, transport, tokens, principal, fleet, signOut } : undefined),
    [principal, baseUrl, transport, tokens, fleet, signOut],
  );

  if (session.kind === "checking") return <div className="splash" aria-busy="true" />;
  if (!api) {
    return (
      <SignIn
        transport={transport}
        notice={session.kind === "signedOut" ? session.notice : undefined}
        onSignedIn={(r) => {
          tokens.set(r.sessionToken);
          if (r.principal) setSession({ kind: "signedIn", principal: r.principal });
        }}
      />
    );
  }
  return (
    <TransportProvider transport={transport}>
      <QueryClientProvider client={queryClient}>
        <ApiContext.Provider value={api}>
          <Shell />
        </ApiContext.Provider>
      </QueryClientProvider>
    </TransportProvider>
  );
}
