import { AuditEventSchema as AuditEventMessage, type AuditService } from "@avtech/proto/gen/avtech/auth/v1/audit_pb.js";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { FilterQuery } from "@mikro-orm/postgresql";
import { AuditEvent } from "../db/entities.ts";
import type { ScopeFactory } from "../db/tenant-scope.ts";

/** Page token: the (at, id) of the last event of the previous page, so pages stay stable while events arrive. */
function decodeToken(token: string): { at: Date; id: string } | undefined {
  if (!token) return undefined;
  try {
    const [at, id] = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as [string, string];
    const date = new Date(at);
    if (Number.isNaN(date.getTime()) || typeof id !== "string") throw new Error("bad token");
    return { at: date, id };
  } catch {
    throw new ConnectError("page_token is not one this server issued; start again without it", Code.InvalidArgument);
  }
}

function json(value: unknown): string {
  return value === null || value === undefined ? "" : JSON.stringify(value);
}

/** AuditService: the tenant's audit log, newest first. */
export function createAuditService(deps: { scope: ScopeFactory }): ServiceImpl<typeof AuditService> {
  return {
    async listAuditEvents(req, context) {
      const pageSize = req.pageSize === 0 ? 100 : req.pageSize;
      if (pageSize > 500) throw new ConnectError("page_size must be 1..500", Code.InvalidArgument);
      const after = decodeToken(req.pageToken);
      const where: FilterQuery<AuditEvent>[] = [];
      if (req.subjectId) where.push({ subjectId: req.subjectId });
      if (after) where.push({ $or: [{ at: { $lt: after.at } }, { at: after.at, id: { $lt: after.id } }] });
      const events = await deps
        .scope(context)
        .find(AuditEvent, { $and: where }, { orderBy: [{ at: "desc" }, { id: "desc" }], limit: pageSize + 1 });
      const page = events.slice(0, pageSize);
      const last = page[page.length - 1];
      return {
        events: page.map((e) =>
          create(AuditEventMessage, {
            id: e.id,
            at: timestampFromDate(e.at),
            actorId: e.actorId,
            actorName: e.actorName,
            action: e.action,
            subjectType: e.subjectType,
            subjectId: e.subjectId,
            beforeJson: json(e.before),
            afterJson: json(e.after),
            result: e.result,
            message: e.message,
          }),
        ),
        nextPageToken:
          events.length > pageSize && last
            ? Buffer.from(JSON.stringify([last.at.toISOString(), last.id])).toString("base64url")
            : "",
      };
    },
  };
}
