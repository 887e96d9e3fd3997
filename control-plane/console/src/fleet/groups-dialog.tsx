import { FleetService } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { useMutation, useQuery } from "@connectrpc/connect-query";
import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { describeError } from "../api/errors.ts";
import { Modal } from "../ui/modal.tsx";

/** Lists groups with their screen counts; creates and deletes (empty) groups. */
export function GroupsDialog({ onClose }: { onClose: () => void }) {
  const queryClient = useQueryClient();
  const done = { onSuccess: () => queryClient.invalidateQueries() };
  const groups = useQuery(FleetService.method.listGroups, {});
  const create = useMutation(FleetService.method.createGroup, done);
  const remove = useMutation(FleetService.method.deleteGroup, done);
  const [name, setName] = useState("");
  const error = groups.error ?? create.error ?? remove.error;
  return (
    <Modal title="Groups" onClose={onClose}>
      <ul className="plain-list">
        {groups.data?.groups.map((g) => (
          <li key={g.id} className="user-row">
            <span className="grow">
              <strong>{g.name}</strong> <span className="muted small">{g.screenCount} screens</span>
            </span>
            <button
              type="button"
              className="danger"
              aria-label={`Delete group ${g.name}`}
              onClick={() => remove.mutate({ id: g.id })}
            >
              Delete
            </button>
          </li>
        ))}
        {groups.data?.groups.length === 0 && <li className="muted">No groups yet.</li>}
      </ul>
      {error && (
        <p className="error" role="alert">
          {describeError(error)}
        </p>
      )}
      <form
        className="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          create.mutate({ name: name.trim() }, { onSuccess: () => setName("") });
        }}
      >
        <label className="grow">
          New group
          <input value={name} onChange={(e) => setName(e.target.value)} maxLength={200} required />
        </label>
        <button type="submit" className="primary" disabled={create.isPending}>
          Create
        </button>
      </form>
    </Modal>
  );
}
