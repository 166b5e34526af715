import { createRoute, z } from "@hono/zod-openapi";
import { listAudit } from "../../audit";
import { pageLimit } from "../../fields";
import { guard, handle } from "../../http/route";
import { json, keyedErrors } from "../../http/schemas";
import { Instant, InstantInput, instant, msOf } from "../../instant";

const AuditRow = z
  .object({
    seq: z.int(),
    at: Instant,
    actor: z.object({ type: z.string(), id: z.string() }),
    action: z.string(),
    subject: z.object({ type: z.string(), id: z.string() }),
    before: z.unknown().nullable(),
    after: z.unknown().nullable(),
    request_id: z.string().nullable(),
    prev_hash: z.string(),
    hash: z.string(),
  })
  .openapi("AuditEntry");
const AuditPage = z.object({ data: z.array(AuditRow), has_more: z.boolean(), next_before: z.int().nullable() });
export type AuditPageResponse = z.infer<typeof AuditPage>;

const ListQuery = z.strictObject({
  action: z.string().max(100).optional(),
  actor_id: z.string().max(100).optional(),
  subject_type: z.string().max(100).optional(),
  subject_id: z.string().max(200).optional(),
  from: InstantInput.optional(),
  to: InstantInput.optional(),
  before: z.coerce.number().int().positive().optional().describe("Cursor: `next_before` of the previous page"),
  limit: pageLimit(200, 50),
});

const route = createRoute({
  method: "get",
  path: "/v1/audit",
  ...guard("audit:read"),
  summary: "Audit log, newest first, paginated and filterable",
  tags: ["audit"],
  request: { query: ListQuery },
  responses: { 200: json(AuditPage, "Newest first"), ...keyedErrors },
});

const parse = (s: string | null) => (s === null ? null : (JSON.parse(s) as unknown));

export default handle(route, async (c) => {
  const q = c.req.valid("query");
  const page = await listAudit(c.get("services").db, {
    action: q.action,
    actorId: q.actor_id,
    subjectType: q.subject_type,
    subjectId: q.subject_id,
    from: q.from ? msOf(q.from) : undefined,
    to: q.to ? msOf(q.to) : undefined,
    before: q.before,
    limit: q.limit,
  });
  return c.json(
    {
      data: page.rows.map((r) => ({
        seq: r.seq,
        at: instant(r.at),
        actor: { type: r.actorType, id: r.actorId },
        action: r.action,
        subject: { type: r.subjectType, id: r.subjectId },
        before: parse(r.before),
        after: parse(r.after),
        request_id: r.requestId,
        prev_hash: r.prevHash,
        hash: r.hash,
      })),
      has_more: page.hasMore,
      next_before: page.nextBefore,
    },
    200,
  );
});
