import { RebootPolicy, UpdateFailureReason, UpdatePhase } from "@avtech/proto/gen/avtech/device/v1/update_pb.js";
import {
  PauseReason,
  type PhaseCounts,
  type Release,
  type Rollout,
  RolloutState,
  type ScreenUpdate,
  UpdateService,
  type Wave,
} from "@avtech/proto/gen/avtech/update/v1/update_pb.js";
import { useMutation, useQuery } from "@connectrpc/connect-query";
import { useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { useApi } from "../api/api-context.tsx";
import { describeError } from "../api/errors.ts";
import { isAdmin } from "../api/session.ts";
import { uploadRelease } from "../api/upload.ts";
import { type TargetChoice, targetInit } from "../schedules/target.ts";
import { TargetPicker } from "../schedules/target-picker.tsx";
import { formatBytes, formatDateTime } from "../ui/format.ts";
import { href } from "../ui/router.ts";

/** Live pages refresh this often: screens report at every phase change. */
const refreshMs = 5_000;

const stateLabels: Record<RolloutState, string> = {
  [RolloutState.UNSPECIFIED]: "—",
  [RolloutState.RUNNING]: "Running",
  [RolloutState.PAUSED]: "Paused",
  [RolloutState.COMPLETED]: "Completed",
  [RolloutState.ABORTED]: "Aborted",
};

/** A phase in words, for tables and a screen's history. */
export const phaseLabels: Record<UpdatePhase, string> = {
  [UpdatePhase.UNSPECIFIED]: "—",
  [UpdatePhase.PENDING]: "Pending",
  [UpdatePhase.DOWNLOADING]: "Downloading",
  [UpdatePhase.INSTALLING]: "Installing",
  [UpdatePhase.REBOOTING]: "Rebooting",
  [UpdatePhase.HEALTHY]: "Healthy",
  [UpdatePhase.FAILED]: "Failed",
  [UpdatePhase.ROLLED_BACK]: "Rolled back",
};

/** A failure reason in words. */
export const reasonLabels: Record<UpdateFailureReason, string> = {
  [UpdateFailureReason.UNSPECIFIED]: "",
  [UpdateFailureReason.DOWNLOAD_FAILED]: "download failed",
  [UpdateFailureReason.CHECKSUM_MISMATCH]: "checksum mismatch",
  [UpdateFailureReason.NO_SPACE]: "no space",
  [UpdateFailureReason.SIGNATURE_INVALID]: "signature invalid",
  [UpdateFailureReason.INCOMPATIBLE]: "incompatible",
  [UpdateFailureReason.INSTALL_FAILED]: "install failed",
  [UpdateFailureReason.NOT_HEALTHY]: "not healthy",
  [UpdateFailureReason.UNSUPPORTED]: "unsupported device",
};

function stateText(rollout: Rollout): string {
  if (rollout.state !== RolloutState.PAUSED) return stateLabels[rollout.state];
  return rollout.pauseReason === PauseReason.FAILURE_THRESHOLD ? "Paused: too many failures" : "Paused";
}

function stateTone(state: RolloutState): string {
  return state === RolloutState.RUNNING
    ? "tone-text-good"
    : state === RolloutState.PAUSED || state === RolloutState.ABORTED
      ? "tone-text-bad"
      : "";
}

/** OS updates: releases (upload, delete), rollouts with per-wave progress, and one rollout's screens. */
export function UpdatesPage({ rolloutId }: { rolloutId: string | undefined }) {
  if (rolloutId) return <RolloutPage rolloutId={rolloutId} />;
  return (
    <section aria-labelledby="updates-title">
      <div className="page-head">
        <div>
          <h1 id="updates-title">OS updates</h1>
          <p className="sub">
            Signed releases go to screens in waves; a wave with too many failures pauses the rollout.
          </p>
        </div>
      </div>
      <Releases />
      <Rollouts />
    </section>
  );
}

function Releases() {
  const { principal } = useApi();
  const queryClient = useQueryClient();
  const list = useQuery(UpdateService.method.listReleases, {});
  const remove = useMutation(UpdateService.method.deleteRelease, { onSuccess: () => queryClient.invalidateQueries() });
  const admin = isAdmin(principal);
  return (
    <div className="card">
      <h2>Releases</h2>
      {admin && <ReleaseUpload />}
      {list.error && <p className="error">{describeError(list.error)}</p>}
      {remove.error && (
        <p className="error" role="alert">
          {describeError(remove.error)}
        </p>
      )}
      {list.data?.releases.length === 0 && <p className="muted">No release uploaded yet.</p>}
      {list.data && list.data.releases.length > 0 && (
        <table className="simple-table">
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col">Size</th>
              <th scope="col">Signed by</th>
              <th scope="col">Uploaded</th>
              <th scope="col">Notes</th>
              {admin && <th scope="col" aria-label="Actions" />}
            </tr>
          </thead>
          <tbody>
            {list.data.releases.map((release) => (
              <tr key={release.id}>
                <td>{release.version}</td>
                <td className="num">{formatBytes(release.sizeBytes)}</td>
                <td>{release.signer || "—"}</td>
                <td>{formatDateTime(release.uploadedAt)}</td>
                <td>{release.notes || "—"}</td>
                {admin && (
                  <td>
                    <button
                      type="button"
                      className="ghost"
                      disabled={remove.isPending}
                      onClick={() => {
                        if (window.confirm(`Delete release ${release.version} and its bundle?`)) {
                          remove.mutate({ releaseId: release.id });
                        }
                      }}
                    >
                      Delete
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function ReleaseUpload() {
  const { baseUrl, tokens } = useApi();
  const queryClient = useQueryClient();
  const [file, setFile] = useState<File | undefined>();
  const [notes, setNotes] = useState("");
  const [sent, setSent] = useState<number | undefined>();
  const [outcome, setOutcome] = useState<{ ok: boolean; text: string } | undefined>();
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    if (!file) return;
    const form = e.currentTarget;
    setOutcome(undefined);
    setSent(0);
    uploadRelease(file, notes, { baseUrl, token: tokens.get(), onProgress: (bytes) => setSent(bytes) })
      .then((r) => {
        setOutcome({ ok: true, text: `Release ${r.release?.version} is ready to roll out.` });
        setFile(undefined);
        setNotes("");
        form.reset();
      })
      .catch((err: unknown) => setOutcome({ ok: false, text: describeError(err) }))
      .finally(() => {
        setSent(undefined);
        void queryClient.invalidateQueries();
      });
  };
  return (
    <form className="filters" onSubmit={submit} aria-label="Upload a release">
      <label>
        Bundle (.raucb)
        <input type="file" accept=".raucb" onChange={(e) => setFile(e.target.files?.[0])} />
      </label>
      <label>
        Notes
        <input value={notes} maxLength={2000} onChange={(e) => setNotes(e.target.value)} />
      </label>
      <button type="submit" className="primary" disabled={!file || sent !== undefined}>
        {sent === undefined ? "Upload" : `Uploading… ${file ? Math.floor((sent / Math.max(1, file.size)) * 100) : 0} %`}
      </button>
      {outcome && (
        <p className={outcome.ok ? "muted" : "error"} role={outcome.ok ? "status" : "alert"}>
          {outcome.text}
        </p>
      )}
    </form>
  );
}

function Rollouts() {
  const { principal } = useApi();
  const list = useQuery(UpdateService.method.listRollouts, {}, { refetchInterval: refreshMs });
  return (
    <div className="card">
      <h2>Rollouts</h2>
      {isAdmin(principal) && <NewRollout />}
      {list.error && <p className="error">{describeError(list.error)}</p>}
      {list.data?.rollouts.length === 0 && <p className="muted">No rollout yet.</p>}
      {list.data?.rollouts.map((rollout) => (
        <RolloutSummary key={rollout.id} rollout={rollout} />
      ))}
    </div>
  );
}

function RolloutSummary({ rollout }: { rollout: Rollout }) {
  const total = rollout.waves.reduce((sum, wave) => sum + wave.screenCount, 0);
  return (
    <div className="rollout">
      <h3>
        <a href={href("updates", rollout.id)}>{rollout.release?.version}</a>{" "}
        <span className={stateTone(rollout.state)}>{stateText(rollout)}</span>
      </h3>
      <p className="muted small">
        {total} screens · started {formatDateTime(rollout.createdAt)} · pauses above {rollout.maxFailurePercent} %
        failures per wave
      </p>
      <WaveBars rollout={rollout} />
    </div>
  );
}

/** One bar per wave: healthy, failed and in-progress shares of its screens. */
function WaveBars({ rollout }: { rollout: Rollout }) {
  return (
    <ol className="waves">
      {rollout.waves.map((wave, index) => (
        <WaveBar
          // biome-ignore lint/suspicious/noArrayIndexKey: waves are positional and never reordered.
          key={index}
          wave={wave}
          index={index}
          current={index === rollout.currentWave && rollout.state !== RolloutState.COMPLETED}
          stopped={rollout.state === RolloutState.ABORTED}
        />
      ))}
    </ol>
  );
}

function WaveBar({ wave, index, current, stopped }: { wave: Wave; index: number; current: boolean; stopped: boolean }) {
  const c: PhaseCounts | undefined = wave.counts;
  const size = Math.max(1, wave.screenCount);
  const healthy = c?.healthy ?? 0;
  const failed = (c?.failed ?? 0) + (c?.rolledBack ?? 0);
  const busy = (c?.downloading ?? 0) + (c?.installing ?? 0) + (c?.rebooting ?? 0);
  const state = wave.finishedAt
    ? "done"
    : stopped
      ? wave.startedAt
        ? "stopped"
        : "not started"
      : wave.startedAt
        ? "running"
        : "waiting";
  return (
    <li aria-current={current ? "step" : undefined}>
      <span className="wave-label">
        Wave {index + 1} · {wave.percent} % · {wave.screenCount} {wave.screenCount === 1 ? "screen" : "screens"} ·{" "}
        {state}
      </span>
      <div
        className="meter"
        role="progressbar"
        aria-label={`Wave ${index + 1} healthy screens`}
        aria-valuemin={0}
        aria-valuemax={wave.screenCount}
        aria-valuenow={healthy}
      >
        <div className="meter-fill tone-bg-good" style={{ width: `${(healthy / size) * 100}%` }} />
        <div className="meter-fill tone-bg-bad" style={{ width: `${(failed / size) * 100}%` }} />
        <div className="meter-fill tone-bg-busy" style={{ width: `${(busy / size) * 100}%` }} />
      </div>
      <span className="small muted">
        {healthy} healthy · {busy} updating · {c?.pending ?? 0} pending · {c?.failed ?? 0} failed · {c?.rolledBack ?? 0}{" "}
        rolled back
      </span>
    </li>
  );
}

function parsePercents(text: string): number[] | undefined {
  const trimmed = text.trim();
  if (trimmed === "") return [];
  const values = trimmed.split(/[\s,]+/).map(Number);
  return values.every((v) => Number.isInteger(v)) ? values : undefined;
}

function NewRollout() {
  const queryClient = useQueryClient();
  const releases = useQuery(UpdateService.method.listReleases, {});
  const create = useMutation(UpdateService.method.createRollout, { onSuccess: () => queryClient.invalidateQueries() });
  const [releaseId, setReleaseId] = useState("");
  const [target, setTarget] = useState<TargetChoice>({ kind: "wholeTenant", value: "true" });
  const [percents, setPercents] = useState("1, 5, 25, 100");
  const [maxFailure, setMaxFailure] = useState("10");
  const [policy, setPolicy] = useState(RebootPolicy.QUIET);
  const waves = parsePercents(percents);
  const chosen: Release | undefined = releases.data?.releases.find((r) => r.id === releaseId);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!chosen || !waves) return;
    if (!window.confirm(`Roll ${chosen.version} out? Screens reboot into it.`)) return;
    create.mutate({
      releaseId: chosen.id,
      targets: target.kind === "wholeTenant" ? [] : [targetInit(target)],
      wavePercents: waves,
      maxFailurePercent: Number(maxFailure),
      rebootPolicy: policy,
    });
  };
  return (
    <form className="rollout-form" onSubmit={submit} aria-label="New rollout">
      <div className="filters">
        <label>
          Release
          <select value={releaseId} onChange={(e) => setReleaseId(e.target.value)}>
            <option value="">Choose…</option>
            {releases.data?.releases.map((r) => (
              <option key={r.id} value={r.id}>
                {r.version}
              </option>
            ))}
          </select>
        </label>
        <label>
          Waves (cumulative %)
          <input value={percents} onChange={(e) => setPercents(e.target.value)} aria-invalid={!waves} />
        </label>
        <label>
          Pause above (% failed per wave)
          <input type="number" min={0} max={100} value={maxFailure} onChange={(e) => setMaxFailure(e.target.value)} />
        </label>
        <label>
          Reboot
          <select value={policy} onChange={(e) => setPolicy(Number(e.target.value) as RebootPolicy)}>
            <option value={RebootPolicy.QUIET}>Outside display hours</option>
            <option value={RebootPolicy.NOW}>At the next clip</option>
          </select>
        </label>
      </div>
      <TargetPicker value={target} onChange={setTarget} />
      <button type="submit" className="primary" disabled={!chosen || !waves || create.isPending}>
        {create.isPending ? "Starting…" : "Start rollout"}
      </button>
      {create.error && (
        <p className="error" role="alert">
          {describeError(create.error)}
        </p>
      )}
    </form>
  );
}

const phaseFilters: { label: string; phases: UpdatePhase[] }[] = [
  { label: "All", phases: [] },
  { label: "Problems", phases: [UpdatePhase.FAILED, UpdatePhase.ROLLED_BACK] },
  { label: "Updating", phases: [UpdatePhase.DOWNLOADING, UpdatePhase.INSTALLING, UpdatePhase.REBOOTING] },
  { label: "Pending", phases: [UpdatePhase.PENDING] },
  { label: "Healthy", phases: [UpdatePhase.HEALTHY] },
];

function RolloutPage({ rolloutId }: { rolloutId: string }) {
  const { principal } = useApi();
  const queryClient = useQueryClient();
  const got = useQuery(UpdateService.method.getRollout, { rolloutId }, { refetchInterval: refreshMs });
  const onSuccess = () => queryClient.invalidateQueries();
  const pause = useMutation(UpdateService.method.pauseRollout, { onSuccess });
  const resume = useMutation(UpdateService.method.resumeRollout, { onSuccess });
  const abort = useMutation(UpdateService.method.abortRollout, { onSuccess });
  const rollout = got.data?.rollout;
  const error = got.error ?? pause.error ?? resume.error ?? abort.error;
  const busy = pause.isPending || resume.isPending || abort.isPending;
  const open = rollout && (rollout.state === RolloutState.RUNNING || rollout.state === RolloutState.PAUSED);
  return (
    <section aria-labelledby="rollout-title">
      <a href={href("updates")} className="back">
        ← OS updates
      </a>
      {!rollout ? (
        <p className={got.error ? "error" : "muted"}>{got.error ? describeError(got.error) : "Loading the rollout…"}</p>
      ) : (
        <>
          <div className="page-head">
            <div>
              <h1 id="rollout-title">Rollout of {rollout.release?.version}</h1>
              <p className="sub">
                <span className={stateTone(rollout.state)}>{stateText(rollout)}</span> · created{" "}
                {formatDateTime(rollout.createdAt)} · reboots{" "}
                {rollout.rebootPolicy === RebootPolicy.NOW ? "at the next clip" : "outside display hours"}
              </p>
            </div>
            {isAdmin(principal) && open && (
              <div className="button-row">
                {rollout.state === RolloutState.RUNNING ? (
                  <button type="button" disabled={busy} onClick={() => pause.mutate({ rolloutId })}>
                    Pause
                  </button>
                ) : (
                  <button
                    type="button"
                    className="primary"
                    disabled={busy}
                    onClick={() => resume.mutate({ rolloutId })}
                  >
                    Resume
                  </button>
                )}
                <button
                  type="button"
                  disabled={busy}
                  onClick={() => {
                    if (window.confirm("Abort? Screens that have not started installing will not.")) {
                      abort.mutate({ rolloutId });
                    }
                  }}
                >
                  Abort
                </button>
              </div>
            )}
          </div>
          {error && (
            <p className="error" role="alert">
              {describeError(error)}
            </p>
          )}
          <div className="card">
            <h2>Waves</h2>
            <WaveBars rollout={rollout} />
          </div>
          <RolloutScreens rolloutId={rolloutId} />
        </>
      )}
    </section>
  );
}

function RolloutScreens({ rolloutId }: { rolloutId: string }) {
  const [filter, setFilter] = useState(0);
  const [pages, setPages] = useState<string[]>([""]);
  const phases = phaseFilters[filter]?.phases ?? [];
  const pageToken = pages.at(-1) ?? "";
  const list = useQuery(
    UpdateService.method.listRolloutScreens,
    { rolloutId, phases, pageSize: 100, pageToken },
    { refetchInterval: refreshMs },
  );
  return (
    <div className="card">
      <h2>Screens</h2>
      <fieldset className="button-row">
        <legend className="sr-only">Show</legend>
        {phaseFilters.map((f, index) => (
          <button
            key={f.label}
            type="button"
            aria-pressed={filter === index}
            onClick={() => {
              setFilter(index);
              setPages([""]);
            }}
          >
            {f.label}
          </button>
        ))}
      </fieldset>
      {list.error && <p className="error">{describeError(list.error)}</p>}
      {list.data?.screens.length === 0 && <p className="muted">No screen here.</p>}
      {list.data && list.data.screens.length > 0 && <ScreenUpdatesTable updates={list.data.screens} showWave />}
      <div className="button-row">
        {pages.length > 1 && (
          <button type="button" onClick={() => setPages((p) => p.slice(0, -1))}>
            Previous
          </button>
        )}
        {list.data?.nextPageToken && (
          <button type="button" onClick={() => setPages((p) => [...p, list.data?.nextPageToken ?? ""])}>
            Next
          </button>
        )}
      </div>
    </div>
  );
}

/** Screens' update states (a rollout's screens, or one screen's history). */
export function ScreenUpdatesTable({
  updates,
  showWave = false,
  showScreen = true,
}: {
  updates: readonly ScreenUpdate[];
  showWave?: boolean;
  showScreen?: boolean;
}) {
  return (
    <table className="simple-table">
      <thead>
        <tr>
          {showScreen && <th scope="col">Screen</th>}
          <th scope="col">Version</th>
          {showWave && <th scope="col">Wave</th>}
          <th scope="col">Phase</th>
          <th scope="col">Since</th>
          <th scope="col">Detail</th>
        </tr>
      </thead>
      <tbody>
        {updates.map((u) => (
          <tr key={`${u.rolloutId}/${u.screenId}/${u.phase}/${u.updatedAt?.seconds}`}>
            {showScreen && (
              <td>
                <a href={href("screens", u.screenId)}>{u.screenName}</a>
              </td>
            )}
            <td>
              <a href={href("updates", u.rolloutId)}>{u.version}</a>
            </td>
            {showWave && <td className="num">{u.wave + 1}</td>}
            <td
              className={u.phase === UpdatePhase.FAILED || u.phase === UpdatePhase.ROLLED_BACK ? "tone-text-bad" : ""}
            >
              {phaseLabels[u.phase]}
              {u.phase === UpdatePhase.DOWNLOADING && u.bytesTotal > 0n
                ? ` ${Math.floor((Number(u.bytesDone) / Number(u.bytesTotal)) * 100)} %`
                : ""}
            </td>
            <td>{formatDateTime(u.updatedAt)}</td>
            <td>{[reasonLabels[u.reason], u.message].filter(Boolean).join(": ") || "—"}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** A screen's OS update history (newest first), for its page. */
export function ScreenUpdateHistory({ screenId }: { screenId: string }) {
  const list = useQuery(UpdateService.method.listScreenUpdates, { screenId }, { refetchInterval: refreshMs });
  return (
    <div className="card">
      <h2>OS updates</h2>
      {list.error && <p className="error">{describeError(list.error)}</p>}
      {list.data?.updates.length === 0 && <p className="muted">This screen was in no rollout yet.</p>}
      {list.data && list.data.updates.length > 0 && (
        <ScreenUpdatesTable updates={list.data.updates.slice(0, 50)} showScreen={false} />
      )}
    </div>
  );
}
