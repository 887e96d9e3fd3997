import { EnrollmentKeyState, FleetService, type Group } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { useMutation, useQuery } from "@connectrpc/connect-query";
import { useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { describeError } from "../api/errors.ts";
import { formatDateTime } from "../ui/format.ts";
import { Modal } from "../ui/modal.tsx";
import { choicesOf, Select } from "../ui/select.tsx";

const stateLabels: Record<EnrollmentKeyState, string> = {
  [EnrollmentKeyState.UNSPECIFIED]: "unknown",
  [EnrollmentKeyState.ACTIVE]: "active",
  [EnrollmentKeyState.EXPIRED]: "expired",
  [EnrollmentKeyState.USED_UP]: "used up",
  [EnrollmentKeyState.REVOKED]: "revoked",
};

/**
 * Enrollment keys (admins only): a key in a screen's avtech.toml enrolls it into this tenant, and
 * its group, with no pairing step. Lists keys with their use and state, creates one (its secret is
 * shown once, with the avtech.toml line for the installer), and revokes keys.
 */
export function EnrollmentKeysDialog({ groups, onClose }: { groups: readonly Group[]; onClose: () => void }) {
  const queryClient = useQueryClient();
  const refresh = { onSuccess: () => queryClient.invalidateQueries() };
  // Screens use keys without the console knowing: every opening shows the current counts.
  const keys = useQuery(FleetService.method.listEnrollmentKeys, {}, { refetchOnMount: "always" });
  const create = useMutation(FleetService.method.createEnrollmentKey, refresh);
  const revoke = useMutation(FleetService.method.revokeEnrollmentKey, refresh);
  const [name, setName] = useState("");
  const [groupId, setGroupId] = useState("");
  const [maxUses, setMaxUses] = useState("0");
  const [expiresOn, setExpiresOn] = useState("");
  const [created, setCreated] = useState<{ name: string; secret: string }>();
  const groupName = (id: string) => groups.find((g) => g.id === id)?.name ?? "";
  const error = keys.error ?? create.error ?? revoke.error;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const keyName = name.trim();
    create.mutate(
      {
        name: keyName,
        groupId,
        maxUses: Number(maxUses),
        // The key works through the whole chosen day, in the browser's time zone.
        expiresAt: expiresOn ? timestampFromDate(new Date(`${expiresOn}T23:59:59`)) : undefined,
      },
      {
        onSuccess: (r) => {
          setCreated({ name: keyName, secret: r.enrollmentKey });
          setName("");
          setMaxUses("0");
          setExpiresOn("");
        },
      },
    );
  };

  return (
    <Modal title="Enrollment keys" onClose={onClose}>
      <p className="muted">
        A screen whose avtech.toml carries a key joins this tenant (and the key's group) when it first starts, with no
        pairing code.
      </p>
      {created && (
        <div className="notice" role="status">
          <p>
            Key <strong>{created.name}</strong> created. Copy it now: it is not shown again.
          </p>
          <label>
            avtech.toml line for the installer
            <input readOnly value={`enrollment_key = "${created.secret}"`} onFocus={(e) => e.currentTarget.select()} />
          </label>
          <button type="button" onClick={() => void navigator.clipboard?.writeText(created.secret)}>
            Copy key
          </button>
        </div>
      )}
      <table className="simple-table" aria-label="Enrollment keys">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Group</th>
            <th scope="col">Used</th>
            <th scope="col">Expires</th>
            <th scope="col">State</th>
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {keys.data?.keys.map((k) => (
            <tr key={k.id}>
              <td>{k.name}</td>
              <td>{groupName(k.groupId) || <span className="muted">none</span>}</td>
              <td>
                {k.uses}
                {k.maxUses > 0 ? ` of ${k.maxUses}` : ""}
              </td>
              <td>{k.expiresAt ? formatDateTime(k.expiresAt) : <span className="muted">never</span>}</td>
              <td>{stateLabels[k.state]}</td>
              <td>
                {k.state !== EnrollmentKeyState.REVOKED && (
                  <button
                    type="button"
                    className="danger"
                    aria-label={`Revoke key ${k.name}`}
                    disabled={revoke.isPending}
                    onClick={() => revoke.mutate({ id: k.id })}
                  >
                    Revoke
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {keys.data?.keys.length === 0 && <p className="muted">No enrollment keys yet.</p>}
      {error && (
        <p className="error" role="alert">
          {describeError(error)}
        </p>
      )}
      <form className="form" onSubmit={submit}>
        <h3>New key</h3>
        <label>
          Name <span className="muted small">(e.g. the site)</span>
          <input value={name} onChange={(e) => setName(e.target.value)} maxLength={200} required />
        </label>
        <Select label="Group" value={groupId} empty="No group" choices={choicesOf(groups)} onChange={setGroupId} />
        <label>
          Screens it may enroll <span className="muted small">(0 = no limit)</span>
          <input type="number" min={0} step={1} value={maxUses} onChange={(e) => setMaxUses(e.target.value)} />
        </label>
        <label>
          Last day it works <span className="muted small">(empty = no end)</span>
          <input type="date" value={expiresOn} onChange={(e) => setExpiresOn(e.target.value)} />
        </label>
        <div className="actions">
          <button type="submit" className="primary" disabled={create.isPending}>
            {create.isPending ? "Creating…" : "Create key"}
          </button>
        </div>
      </form>
    </Modal>
  );
}
