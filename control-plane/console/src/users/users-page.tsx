import { Role } from "@avtech/proto/gen/avtech/auth/v1/auth_pb.js";
import { UserService } from "@avtech/proto/gen/avtech/auth/v1/user_pb.js";
import { useMutation, useQuery } from "@connectrpc/connect-query";
import { useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { useApi } from "../api/api-context.tsx";
import { describeError } from "../api/errors.ts";
import { isAdmin, roleLabel } from "../api/session.ts";
import { formatAgo } from "../ui/format.ts";
import { Select } from "../ui/select.tsx";

const roleChoices = [Role.VIEWER, Role.EDITOR, Role.ADMIN].map((r) => ({ value: String(r), label: roleLabel(r) }));

/** Users and API tokens of the tenant (admins only; the server refuses others too). */
export function UsersPage() {
  const { principal } = useApi();
  if (!isAdmin(principal)) return <p className="muted">Only admins manage users and API tokens.</p>;
  return (
    <section aria-labelledby="users-title">
      <div className="page-head">
        <h1 id="users-title">Users and API tokens</h1>
      </div>
      <div className="cards">
        <Users />
        <Tokens />
      </div>
    </section>
  );
}

function Users() {
  const { principal } = useApi();
  const queryClient = useQueryClient();
  const done = { onSuccess: () => queryClient.invalidateQueries() };
  const users = useQuery(UserService.method.listUsers, {});
  const create = useMutation(UserService.method.createUser, done);
  const update = useMutation(UserService.method.updateUser, done);
  const remove = useMutation(UserService.method.deleteUser, done);
  const [email, setEmail] = useState("");
  const [displayName, setDisplayName] = useState("");
  const [role, setRole] = useState(Role.VIEWER);
  const [password, setPassword] = useState("");
  const error = users.error ?? create.error ?? update.error ?? remove.error;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate(
      { email: email.trim(), displayName: displayName.trim(), role, password },
      {
        onSuccess: () => {
          setEmail("");
          setDisplayName("");
          setPassword("");
        },
      },
    );
  };

  return (
    <div className="card">
      <h2>People</h2>
      {error && (
        <p className="error" role="alert">
          {describeError(error)}
        </p>
      )}
      <ul className="plain-list">
        {users.data?.users.map((u) => (
          <li key={u.id} className="user-row">
            <span className="grow">
              <strong>{u.displayName || u.email}</strong> <span className="muted small">{u.email}</span>
              <span className="muted small"> · last sign-in {formatAgo(u.lastLoginAt)}</span>
              {u.disabled && <span className="badge tone-bad">Disabled</span>}
            </span>
            <Select
              label={`Role of ${u.email}`}
              hideLabel
              value={String(u.role)}
              choices={roleChoices}
              disabled={u.id === principal.userId}
              onChange={(role) => update.mutate({ id: u.id, role: Number(role) as Role })}
            />
            {u.id !== principal.userId && (
              <>
                <button type="button" onClick={() => update.mutate({ id: u.id, disabled: !u.disabled })}>
                  {u.disabled ? "Enable" : "Disable"}
                </button>
                <button
                  type="button"
                  className="danger"
                  onClick={() => window.confirm(`Delete ${u.email}?`) && remove.mutate({ id: u.id })}
                >
                  Delete
                </button>
              </>
            )}
          </li>
        ))}
      </ul>
      <form className="form" onSubmit={submit} aria-label="New user">
        <h3>Invite someone</h3>
        <div className="row">
          <label>
            Email
            <input type="email" value={email} onChange={(e) => setEmail(e.target.value)} required />
          </label>
          <label>
            Name
            <input value={displayName} onChange={(e) => setDisplayName(e.target.value)} />
          </label>
        </div>
        <div className="row">
          <Select
            label="Role"
            value={String(role)}
            choices={roleChoices}
            onChange={(value) => setRole(Number(value) as Role)}
          />
          <label>
            Initial password
            <input
              type="password"
              value={password}
              minLength={12}
              onChange={(e) => setPassword(e.target.value)}
              autoComplete="new-password"
              required
            />
          </label>
        </div>
        <div className="actions">
          <button type="submit" className="primary" disabled={create.isPending}>
            Create user
          </button>
        </div>
      </form>
    </div>
  );
}

function Tokens() {
  const queryClient = useQueryClient();
  const done = { onSuccess: () => queryClient.invalidateQueries() };
  const tokens = useQuery(UserService.method.listApiTokens, {});
  const create = useMutation(UserService.method.createApiToken, done);
  const revoke = useMutation(UserService.method.revokeApiToken, done);
  const [name, setName] = useState("");
  const [role, setRole] = useState(Role.VIEWER);
  const error = tokens.error ?? create.error ?? revoke.error;
  return (
    <div className="card">
      <h2>API tokens</h2>
      {error && (
        <p className="error" role="alert">
          {describeError(error)}
        </p>
      )}
      {create.data && (
        <div className="secret" role="status">
          <p>Copy the secret of “{create.data.token?.name}” now; it is not shown again:</p>
          <code>{create.data.secret}</code>
        </div>
      )}
      <ul className="plain-list">
        {tokens.data?.tokens.map((t) => (
          <li key={t.id} className="user-row">
            <span className="grow">
              <strong>{t.name}</strong> <span className="muted small">{roleLabel(t.role)}</span>
              <span className="muted small"> · last used {formatAgo(t.lastUsedAt)}</span>
              {t.revoked && <span className="badge tone-bad">Revoked</span>}
            </span>
            {!t.revoked && (
              <button
                type="button"
                className="danger"
                onClick={() => window.confirm(`Revoke ${t.name}?`) && revoke.mutate({ id: t.id })}
              >
                Revoke
              </button>
            )}
          </li>
        ))}
      </ul>
      <form
        className="form"
        aria-label="New API token"
        onSubmit={(e) => {
          e.preventDefault();
          create.mutate({ name: name.trim(), role }, { onSuccess: () => setName("") });
        }}
      >
        <div className="row">
          <label>
            Token name
            <input value={name} onChange={(e) => setName(e.target.value)} required />
          </label>
          <Select
            label="Role"
            value={String(role)}
            choices={roleChoices}
            onChange={(value) => setRole(Number(value) as Role)}
          />
        </div>
        <div className="actions">
          <button type="submit" className="primary" disabled={create.isPending}>
            Create token
          </button>
        </div>
      </form>
    </div>
  );
}
