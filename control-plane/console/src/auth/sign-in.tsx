import { AuthService, type LoginResponse } from "@avtech/proto/gen/avtech/auth/v1/auth_pb.js";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { type FormEvent, useState } from "react";
import { describeError } from "../api/errors.ts";

/** Props of {@link SignIn}. */
export interface SignInProps {
  transport: Transport;
  onSignedIn: (response: LoginResponse) => void;
  /** Shown above the form, e.g. "Your session ended". */
  notice?: string | undefined;
}

const lastTenantKey = "avtech.lastTenant";

/** The sign-in form: tenant slug, email, password → AuthService.Login. */
export function SignIn({ transport, onSignedIn, notice }: SignInProps) {
  const [tenant, setTenant] = useState(() => window.localStorage.getItem(lastTenantKey) ?? "");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const response = await createClient(AuthService, transport).login({ tenant: tenant.trim(), email, password });
      window.localStorage.setItem(lastTenantKey, tenant.trim());
      onSignedIn(response);
    } catch (err) {
      const e = ConnectError.from(err);
      // For Login, UNAUTHENTICATED means wrong credentials, not an ended session.
      setError(
        e.code === Code.Unauthenticated ? e.rawMessage || "Wrong organisation, email or password." : describeError(e),
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="signin">
      <form className="signin-card" onSubmit={submit} aria-labelledby="signin-title">
        <div className="brand brand-large" aria-hidden="true">
          <span className="brand-mark">AV</span> AVTech
        </div>
        <h1 id="signin-title">Sign in to your fleet</h1>
        {notice && <p className="notice">{notice}</p>}
        <label>
          Organisation
          <input
            name="tenant"
            value={tenant}
            onChange={(e) => setTenant(e.target.value)}
            autoComplete="organization"
            placeholder="e.g. demo"
            required
          />
        </label>
        <label>
          Email
          <input
            name="email"
            type="email"
            value={email}
            onChange={(e) => setEmail(e.target.value)}
            autoComplete="username"
            required
          />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            autoComplete="current-password"
            required
          />
        </label>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
