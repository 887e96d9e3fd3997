import { useEffect, useState } from "react";
import { AlertsPage } from "./alerts/alerts-page.tsx";
import { useApi } from "./api/api-context.tsx";
import { isAdmin, roleLabel } from "./api/session.ts";
import { FleetPage } from "./fleet/fleet-page.tsx";
import { ScreenPage } from "./fleet/screen-page.tsx";
import { type WatchState, watchFleet } from "./fleet/watch.ts";
import { LibraryPage } from "./library/library-page.tsx";
import { PlaylistsPage } from "./playlists/playlists-page.tsx";
import { PublishPage } from "./publish/publish-page.tsx";
import { ReportsPage } from "./reports/reports-page.tsx";
import { SchedulesPage } from "./schedules/schedules-page.tsx";
import { href, useHashRoute } from "./ui/router.ts";
import { UpdatesPage } from "./updates/updates-page.tsx";
import { UsersPage } from "./users/users-page.tsx";

const sections = [
  { id: "fleet", label: "Screens" },
  { id: "library", label: "Library" },
  { id: "playlists", label: "Playlists" },
  { id: "schedules", label: "Schedules" },
  { id: "publish", label: "Publish" },
  { id: "reports", label: "Reports" },
  { id: "updates", label: "OS updates" },
  { id: "alerts", label: "Alerts" },
] as const;

const watchLabels: Record<WatchState, string> = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  stopped: "Offline",
};

/** The signed-in layout: navigation, the live-link status, and the page for the route. */
export function Shell() {
  const { principal, signOut, transport, fleet } = useApi();
  const route = useHashRoute();
  const [watchState, setWatchState] = useState<WatchState>("connecting");

  useEffect(() => {
    const controller = new AbortController();
    void watchFleet(transport, fleet, setWatchState, controller.signal);
    return () => controller.abort();
  }, [transport, fleet]);

  const section = route[0] ?? "fleet";
  const nav = isAdmin(principal) ? [...sections, { id: "users", label: "Users" } as const] : sections;

  return (
    <div className="shell">
      <header className="topbar">
        <a className="brand" href={href("fleet")}>
          <span className="brand-mark" aria-hidden="true">
            AV
          </span>
          AVTech
        </a>
        <nav aria-label="Main">
          {nav.map((s) => (
            <a
              key={s.id}
              href={href(s.id)}
              aria-current={section === s.id || (s.id === "fleet" && section === "screens") ? "page" : undefined}
            >
              {s.label}
            </a>
          ))}
        </nav>
        <div className="topbar-right">
          <span className={`live live-${watchState}`} role="status" aria-live="polite">
            {watchLabels[watchState]}
          </span>
          <span className="who" title={principal.email}>
            {principal.displayName || principal.email}
            <span className="role-badge">{roleLabel(principal.role)}</span>
            <span className="tenant">{principal.tenantName}</span>
          </span>
          <button type="button" className="ghost" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <main className="page">{renderPage(section, route[1])}</main>
    </div>
  );
}

function renderPage(section: string, id: string | undefined) {
  switch (section) {
    case "screens":
      return id ? <ScreenPage screenId={id} /> : <FleetPage />;
    case "library":
      return <LibraryPage />;
    case "playlists":
      return <PlaylistsPage />;
    case "schedules":
      return <SchedulesPage />;
    case "publish":
      return <PublishPage />;
    case "reports":
      return <ReportsPage />;
    case "updates":
      return <UpdatesPage rolloutId={id} />;
    case "alerts":
      return <AlertsPage />;
    case "users":
      return <UsersPage />;
    default:
      return <FleetPage />;
  }
}
