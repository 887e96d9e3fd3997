import { PublishResponseSchema, type PublishService } from "@avtech/proto/gen/avtech/publish/v1/publish_pb.js";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { noteAudit } from "../audit/index.ts";
import { type PrincipalOf, readers, requireRole, targetFromProto, writers } from "../fleet/access.ts";
import type { FleetRuntime } from "../fleet/runtime.ts";
import { Publisher } from "./publisher.ts";

/** PublishService on the fleet runtime; the caller's tenant comes from `principalOf`. */
export function createPublishService(rt: FleetRuntime, principalOf: PrincipalOf): ServiceImpl<typeof PublishService> {
  const publisher = new Publisher(rt);
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
      const results = await publisher.publish(principal.tenantId, targets, request.dryRun);
      noteAudit(context, {
        after: {
          dryRun: request.dryRun,
          screens: results.length,
          changed: results.filter((result) => result.changed).length,
        },
      });
      return create(PublishResponseSchema, { results, publishedAt: timestampFromDate(rt.clock.now()) });
    },
    async getDesiredState(request, context) {
      const principal = requireRole(principalOf, context, readers);
      const screen = await rt.stores.screens.get(principal.tenantId, request.screenId);
      if (!screen) throw new ConnectError(`no screen ${request.screenId} in your tenant`, Code.NotFound);
      return { desiredState: await rt.stores.desiredStates.latest(screen.id) };
    },
  };
}
