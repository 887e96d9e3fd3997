import { describe, expect, it } from "vitest";
import { type PendingAlert, planNotifications } from "./plan.ts";

const t0 = new Date("2026-12-07T10:00:00Z");
const policy = { groupWindowMs: 60_000, groupMinAlerts: 3 };
let ids = 0;
const newId = () => `n${++ids}`;

const pending = (n: number, over: Partial<PendingAlert> = {}): PendingAlert => ({
  id: `a${n}`,
  tenantId: "t1",
  screenId: `s${n}`,
  screenName: `screen ${n}`,
  kind: "screen_offline",
  detail: "last seen 2026-12-07T09:50:00.000Z",
  openedAt: t0,
  resolvedAt: null,
  openNotified: false,
  resolveNotified: false,
  ...over,
});
const at = (ms: number) => new Date(t0.getTime() + ms);
const unlimited = () => 10;

describe("planNotifications", () => {
  it("waits for the group window from a tenant's first change", () => {
    expect(planNotifications([pending(1)], unlimited, at(59_999), policy, newId).notifications).toEqual([]);
    const plan = planNotifications([pending(1)], unlimited, at(60_000), policy, newId);
    expect(plan.notifications.map((n) => [n.payload.type, n.payload.total])).toEqual([["alert.opened", 1]]);
    expect(plan.openNotified).toEqual(["a1"]);
  });

  it("groups changes of one rule and direction from groupMinAlerts on, one notification each below", () => {
    const offline = [1, 2, 3].map((n) => pending(n));
    const disk = [4, 5].map((n) => pending(n, { kind: "disk_full", detail: "disk 95 % full" }));
    const plan = planNotifications([...offline, ...disk], unlimited, at(60_000), policy, newId);
    expect(plan.notifications.map((n) => [n.payload.type, n.payload.total, n.payload.subject])).toEqual([
      ["alerts.grouped", 3, "[AVTech] 3 screens: screen offline opened"],
      ["alert.opened", 1, "[AVTech] screen 4: disk full opened (disk 95 % full)"],
      ["alert.opened", 1, "[AVTech] screen 5: disk full opened (disk 95 % full)"],
    ]);
  });

  it("folds everything into one notification beyond the per-minute budget, and waits with none left", () => {
    const mixed = [
      pending(1),
      pending(2, { kind: "disk_full" }),
      pending(3, { kind: "overheated" }),
      pending(4, { openNotified: true, resolvedAt: at(1000) }),
    ];
    const folded = planNotifications(mixed, () => 2, at(61_000), policy, newId);
    expect(folded.notifications.map((n) => [n.payload.type, n.payload.total])).toEqual([["alerts.grouped", 4]]);
    expect(folded.notifications[0]?.payload.subject).toBe(
      "[AVTech] 4 alert changes (screen offline opened, disk full opened, overheated opened, screen offline resolved)",
    );
    expect([folded.openNotified, folded.resolveNotified]).toEqual([["a1", "a2", "a3"], ["a4"]]);
    const none = planNotifications(mixed, () => 0, at(61_000), policy, newId);
    expect(none).toEqual({ notifications: [], openNotified: [], resolveNotified: [] });
  });

  it("sends nothing for an alert that resolved before its opening was sent", () => {
    const plan = planNotifications([pending(1, { resolvedAt: at(30_000) })], unlimited, at(90_000), policy, newId);
    expect(plan).toEqual({ notifications: [], openNotified: ["a1"], resolveNotified: ["a1"] });
  });

  it("keeps tenants apart", () => {
    const plan = planNotifications(
      [pending(1), pending(2, { tenantId: "t2" })],
      (tenant) => (tenant === "t1" ? 0 : 5),
      at(60_000),
      policy,
      newId,
    );
    expect(plan.notifications.map((n) => [n.tenantId, n.payload.tenant_id])).toEqual([["t2", "t2"]]);
    expect(plan.openNotified).toEqual(["a2"]);
  });
});
