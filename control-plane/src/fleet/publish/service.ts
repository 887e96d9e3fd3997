import { PublishResponseSchema, type PublishService } from "@avtech/proto/gen/avtech/publish/v1/publish_pb.js";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { TargetSelector } from "../../core/desired-state/index.ts";
import { noteAudit } from "../../platform/audit/index.ts";
import type { Clock } from "../../platform/clock.ts";
import { type PrincipalOf, readers, requireRole, targetFromProto, writers } from "../fleet/access.ts";
import type { FleetStores } from "../fleet/ports.ts";
import type { Publisher } from "./publisher.ts";

/** What {@link createPublishService} uses, and nothing more. */
export interface PublishServiceDeps {
  /** Does the publishing (see {@link Publisher}); the service checks the caller and audits. */
  publisher: Pick<Publisher, "publish">;
  /** `screens` and `groups` resolve the targets in the caller's tenant; `desiredStates` serves GetDesiredState. */
  stores: Pick<FleetStores, "screens" | "groups" | "desiredStates">;
  clock: Clock;
  /** The caller of a console RPC (the core's auth puts it in the handler context). */
  principalOf: PrincipalOf;
}

/** PublishService: Publish and GetDesiredState; the caller's tenant comes from `principalOf`. */
export function createPublishService(deps: PublishServiceDeps): ServiceImpl<typeof PublishService> {
  const { publisher, principalOf } = deps;
  return {
    async publish(request, context) {
      const principal = requireRole(principalOf, context, writers);
      const targets = request.targets.map(targetFromProto);
      // One target names its screen or group; anything wider is the tenant's fleet.
      const [only] = targets;
      const subject =
        targets.length === 1 && only?.kind === "screen"
          ? { subjectType: "screen", subjectId: only.screenId }
          : targets.length === 1 && only?.kind === "group"
            ? { subjectType: "group", subjectId: only.groupId }
            : { subjectType: "tenant", subjectId: principal.tenantId };
      noteAudit(context, subject);
      await requireTargetsInTenant(deps.stores, principal.tenantId, targets);
      const results = await publisher.publish(principal.tenantId, targets, request.dryRun);
      noteAudit(context, {
        after: {
          dryRun: request.dryRun,
          screens: results.length,
          changed: results.filter((result) => result.changed).length,
        },
      });
      return create(PublishResponseSchema, { results, publishedAt: timestampFromDate(deps.clock.now()) });
    },
    async getDesiredState(request, context) {
      const principal = requireRole(principalOf, context, readers);
      const screen = await deps.stores.screens.get(principal.tenantId, request.screenId);
      if (!screen) throw new ConnectError(`no screen ${request.screenId} in your tenant`, Code.NotFound);
      return { desiredState: await deps.stores.desiredStates.latest(screen.id) };
    },
  };
}

/**
 * NOT_FOUND, naming the first id, when a target names a screen or a group that is not in the
 * tenant (another tenant's, or none at all), as every other RPC answers for such ids; before this
 * check a publish (or dry run) to such a target answered OK and published nothing. An existing
 * group with no screens stays a valid target that selects none.
 */
export async function requireTargetsInTenant(
  stores: Pick<FleetStores, "screens" | "groups">,
  tenantId: string,
  targets: readonly TargetSelector[],
): Promise<void> {
  const screenIds = targets.flatMap((target) => (target.kind === "screen" ? [target.screenId] : []));
  if (screenIds.length > 0) {
    const found = await stores.screens.getMany(tenantId, screenIds);
    const missing = screenIds.find((id) => !found.has(id));
    if (missing !== undefined) throw new ConnectError(`no screen ${missing} in your tenant`, Code.NotFound);
  }
  for (const target of targets) {
    if (target.kind === "group" && !(await stores.groups.get(tenantId, target.groupId))) {
      throw new ConnectError(`no group ${target.groupId} in your tenant`, Code.NotFound);
    }
  }
}
