import {
  PublishService,
  type ScreenPublishResult,
  SyncStatus,
} from "@avtech/proto/gen/avtech/publish/v1/publish_pb.js";
import { useMutation } from "@connectrpc/connect-query";
import { useState } from "react";
import { useApi } from "../api/api-context.tsx";
import { describeError } from "../api/errors.ts";
import { canEdit } from "../api/session.ts";
import { StatusBadge, syncInfo } from "../fleet/status.tsx";
import { useFleetView } from "../fleet/use-fleet.ts";
import { type TargetChoice, targetInit } from "../schedules/target.ts";
import { TargetPicker } from "../schedules/target-picker.tsx";
import { href } from "../ui/router.ts";

/**
 * Publish: first a dry run listing what would change on each screen, then the publish itself,
 * then live progress as screens acknowledge (from the WatchFleet stream).
 */
export function PublishPage() {
  const { principal } = useApi();
  const [target, setTarget] = useState<TargetChoice>({ kind: "wholeTenant", value: "true" });
  const dryRun = useMutation(PublishService.method.publish);
  const publish = useMutation(PublishService.method.publish);
  const targets = target.kind === "wholeTenant" ? [] : [targetInit(target)];
  const chooseTarget = (next: TargetChoice) => {
    setTarget(next);
    // A diff computed for another target must not be published.
    dryRun.reset();
    publish.reset();
  };
  const editor = canEdit(principal);
  const diff = dryRun.data?.results.filter((r) => r.changed) ?? [];

  return (
    <section aria-labelledby="publish-title">
      <div className="page-head">
        <div>
          <h1 id="publish-title">Publish</h1>
          <p className="sub">Nothing reaches a screen until you publish. Check the changes first.</p>
        </div>
        <div className="button-row">
          <button
            type="button"
            disabled={dryRun.isPending}
            onClick={() => {
              publish.reset();
              dryRun.mutate({ targets, dryRun: true });
            }}
          >
            {dryRun.isPending ? "Comparing…" : "Show changes"}
          </button>
          {editor && (
            <button
              type="button"
              className="primary"
              disabled={!dryRun.data || diff.length === 0 || publish.isPending}
              onClick={() =>
                // The diff is spent once published: a second publish needs a fresh comparison.
                publish.mutate({ targets, dryRun: false }, { onSuccess: () => dryRun.reset() })
              }
            >
              {publish.isPending ? "Publishing…" : diff.length > 0 ? `Publish to ${diff.length} screens` : "Publish"}
            </button>
          )}
        </div>
      </div>
      <TargetPicker value={target} onChange={chooseTarget} />
      {(dryRun.error ?? publish.error) && (
        <p className="error" role="alert">
          {describeError(dryRun.error ?? publish.error)}
        </p>
      )}
      {publish.data ? (
        <Progress results={publish.data.results.filter((r) => r.changed)} />
      ) : (
        dryRun.data && <Diff results={diff} unchanged={dryRun.data.results.length - diff.length} />
      )}
    </section>
  );
}

function Diff({ results, unchanged }: { results: readonly ScreenPublishResult[]; unchanged: number }) {
  if (results.length === 0) return <p className="muted">Every screen is up to date ({unchanged} checked).</p>;
  return (
    <div className="card">
      <h2>
        {results.length} screens will change · {unchanged} unchanged
      </h2>
      <table className="simple-table">
        <thead>
          <tr>
            <th scope="col">Screen</th>
            <th scope="col">Version</th>
            <th scope="col">Clips added</th>
            <th scope="col">Clips removed</th>
            <th scope="col">Rules</th>
            <th scope="col">Settings</th>
          </tr>
        </thead>
        <tbody>
          {results.slice(0, maxListed).map((r) => (
            <tr key={r.screenId}>
              <td>{r.screenName}</td>
              <td className="num">
                v{r.previousVersion.toString()} → v{r.version.toString()}
              </td>
              <td className="num">{r.addedAssetSha256s.length || "—"}</td>
              <td className="num">{r.removedAssetSha256s.length || "—"}</td>
              <td>{r.rulesChanged ? "changed" : "—"}</td>
              <td>{r.settingsChanged ? "changed" : "—"}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {results.length > maxListed && <p className="muted">and {results.length - maxListed} more</p>}
    </div>
  );
}

const maxListed = 200;

function Progress({ results }: { results: readonly ScreenPublishResult[] }) {
  const view = useFleetView();
  let synced = 0;
  let failed = 0;
  const rows = results.map((r) => {
    const live = view.screens.get(r.screenId);
    // The fleet stream is newer than the publish answer once it reports this version or later.
    const status = live && live.desiredVersion >= r.version ? live.syncStatus : r.syncStatus;
    if (status === SyncStatus.SYNCED) synced++;
    if (status === SyncStatus.FAILED) failed++;
    return { r, status, error: live?.lastSyncError ?? "" };
  });
  const pending = results.length - synced - failed;
  // Problems first; a whole-tenant publish can touch thousands of screens, so list at most 200.
  const rank = (s: SyncStatus) => (s === SyncStatus.FAILED ? 0 : s === SyncStatus.SYNCED ? 2 : 1);
  const listed = rows.sort((a, b) => rank(a.status) - rank(b.status)).slice(0, maxListed);
  return (
    <div className="card">
      <h2 aria-live="polite">
        {synced} synced · {pending} pending · {failed} failed
      </h2>
      <div
        className="meter"
        role="progressbar"
        aria-label="Screens synced"
        aria-valuemin={0}
        aria-valuemax={results.length}
        aria-valuenow={synced}
      >
        <div
          className="meter-fill tone-bg-good"
          style={{ width: `${(synced / Math.max(1, results.length)) * 100}%` }}
        />
      </div>
      <ul className="plain-list">
        {listed.map(({ r, status, error }) => (
          <li key={r.screenId}>
            <a href={href("screens", r.screenId)}>{r.screenName}</a> <StatusBadge {...syncInfo(status)} />
            {status === SyncStatus.FAILED && error && <span className="tone-text-bad"> {error}</span>}
          </li>
        ))}
      </ul>
      {rows.length > listed.length && <p className="muted">and {rows.length - listed.length} more</p>}
    </div>
  );
}
