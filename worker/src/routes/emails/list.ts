import { createRoute, z } from "@hono/zod-openapi";
import { EMAIL_STATUSES } from "../../db/schema";
import { listEmails } from "../../email";
import { guard, handle } from "../../http/route";
import { json, keyedErrors } from "../../http/schemas";
import { Instant, instant, instantOrNull } from "../../instant";
import { pageLimit, UserId } from "../../fields";

const Email = z
  .object({
    id: z.string(),
    idempotency_key: z.string(),
    to: z.string(),
    user_id: z.string().nullable(),
    template: z.string(),
    subject: z.string(),
    text: z.string(),
    html: z.string(),
    status: z.enum(EMAIL_STATUSES),
    attempts: z.int(),
    next_attempt_at: Instant.nullable(),
    provider: z.string().nullable(),
    provider_message_id: z.string().nullable(),
    last_error: z.string().nullable(),
    created_at: Instant,
    sent_at: Instant.nullable(),
  })
  .openapi("OutboxEmail");

const ListQuery = z.strictObject({
  user_id: UserId.optional(),
  status: z.enum(EMAIL_STATUSES).optional(),
  limit: pageLimit(100, 20),
  starting_after: z.string().min(1).max(64).optional().describe("An email id: the page after it (cursor)"),
});

const route = createRoute({
  method: "get",
  path: "/v1/emails",
  ...guard("emails:read"),
  summary: "The email outbox, newest first: each email's rendered subject and bodies, status, attempts and provider",
  tags: ["emails"],
  request: { query: ListQuery },
  responses: { 200: json(z.object({ data: z.array(Email), has_more: z.boolean() }), "Newest first"), ...keyedErrors },
});

export default handle(route, async (c) => {
  const q = c.req.valid("query");
  const page = await listEmails(c.get("services").db, { userId: q.user_id, status: q.status, startingAfter: q.starting_after, limit: q.limit });
  return c.json(
    {
      data: page.rows.map((r) => ({
        id: r.id,
        idempotency_key: r.idempotencyKey,
        to: r.to,
        user_id: r.userId,
        template: r.template,
        subject: r.subject,
        text: r.text,
        html: r.html,
        status: r.status,
        attempts: r.attempts,
        next_attempt_at: instantOrNull(r.nextAttemptAt),
        provider: r.provider,
        provider_message_id: r.providerMessageId,
        last_error: r.lastError,
        created_at: instant(r.createdAt),
        sent_at: instantOrNull(r.sentAt),
      })),
      has_more: page.hasMore,
    },
    200,
  );
});
