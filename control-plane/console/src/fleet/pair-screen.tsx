import { FleetService, type Group } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { useMutation } from "@connectrpc/connect-query";
import { type FormEvent, useState } from "react";
import { describeError } from "../api/errors.ts";
import { Modal } from "../ui/modal.tsx";
import { href } from "../ui/router.ts";
import { choicesOf, Select } from "../ui/select.tsx";

/** Claims a new screen with the pairing code it shows (FleetService.ClaimScreen). */
export function PairScreenDialog({ groups, onClose }: { groups: readonly Group[]; onClose: () => void }) {
  const [code, setCode] = useState("");
  const [name, setName] = useState("");
  const [groupId, setGroupId] = useState("");
  const [tags, setTags] = useState("");
  const claim = useMutation(FleetService.method.claimScreen);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    claim.mutate(
      {
        pairingCode: code,
        name: name.trim(),
        groupId,
        tags: tags
          .split(",")
          .map((t) => t.trim().toLowerCase())
          .filter(Boolean),
      },
      {
        onSuccess: (r) => {
          if (r.screen) window.location.hash = href("screens", r.screen.id);
          onClose();
        },
      },
    );
  };

  return (
    <Modal title="Add a screen" onClose={onClose}>
      <form className="form" onSubmit={submit}>
        <p className="muted">Power the screen on. It shows a pairing code; type it here.</p>
        <label>
          Pairing code
          <input
            className="code-input"
            value={code}
            onChange={(e) => setCode(e.target.value.toUpperCase())}
            placeholder="ABCD-1234"
            autoComplete="off"
            required
          />
        </label>
        <label>
          Name
          <input value={name} onChange={(e) => setName(e.target.value)} maxLength={200} required />
        </label>
        <Select label="Group" value={groupId} empty="No group" choices={choicesOf(groups)} onChange={setGroupId} />
        <label>
          Tags <span className="muted small">(comma separated)</span>
          <input value={tags} onChange={(e) => setTags(e.target.value)} />
        </label>
        {claim.error && (
          <p className="error" role="alert">
            {describeError(claim.error)}
          </p>
        )}
        <div className="actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={claim.isPending}>
            {claim.isPending ? "Claiming…" : "Claim screen"}
          </button>
        </div>
      </form>
    </Modal>
  );
}
