/**
 * Delivering the outbox: each due delivery is claimed by a conditional UPDATE (its status, its
 * attempt count and its lease), sent signed to the Standard Webhooks spec, and its outcome written
 * in one batch conditional on that claim, so two isolates never send the same delivery in one
 * attempt round. At least once: a sender that dies mid-attempt leaves a lease that runs out, and
 * the attempt is made again. In order per user: a delivery waits while an earlier one of the same
 * user to the same endpoint is pending. The queue consumer and the minute sweep both run this.
 */
import { and, asc, eq, inArray, lte, or, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { outboundEvents, webhookAttempts, webhookDeliveries, webhookEndpoints } from "../db/schema";
import { enqueueEmail, isEmailAddress } from "../email";
import { describeError } from "../log";
import type { Services } from "../services";
import { DELIVERY_POLICY, afterFailure, delayAfter, withDelays, type DeliveryPolicy } from "./policy";
import { signature, signingKey } from "./secrets";
import { webhookUrlProblem } from "../fields";

export type DeliverDeps = Pick<Services, "db" | "clock" | "log" | "outbound" | "appBaseUrl">;
type Delivery = typeof webhookDeliveries.$inferSelect;
type OutboundEvent = typeof outboundEvents.$inferSelect;
type Endpoint = typeof webhookEndpoints.$inferSelect;

export interface DeliveryOutcome {
  delivered: number;
  failed: number;
  parked: number;
  disabled: number;
  /** Claimed by another sender first, or waiting behind an earlier delivery of the same user. */
  skipped: number;
}

export const policyOf = (s: Pick<Services, "outbound">): DeliveryPolicy => withDelays(DELIVERY_POLICY, s.outbound.WEBHOOK_RETRY_DELAYS);

const BATCH = 50;
const PARALLEL = 6;

/** An earlier delivery of the same user to the same endpoint is still on its way. */
const blockedByEarlier = sql`exists (select 1 from webhook_deliveries p where p.endpoint_id = ${webhookDeliveries.endpointId} and p.user_id = ${webhookDeliveries.userId} and p.event_seq < ${webhookDeliveries.eventSeq} and p.status in ('pending', 'delivering'))`;

/** Due now: pending and due, or held by a sender whose lease ran out. */
const due = (now: number) =>
  or(and(eq(webhookDeliveries.status, "pending"), lte(webhookDeliveries.nextAttemptAt, now)), and(eq(webhookDeliveries.status, "delivering"), sql`${webhookDeliveries.leaseUntil} < ${now}`))!;

/** Delivers what is due (at most `limit`), in order per user and endpoint; `only` narrows it to some deliveries (retry). */
export async function deliverDue(s: DeliverDeps, limit = BATCH, only?: string[]): Promise<DeliveryOutcome> {
  const outcome: DeliveryOutcome = { delivered: 0, failed: 0, parked: 0, disabled: 0, skipped: 0 };
  const now = s.clock.now();
  const rows = await s.db
    .select({ d: webhookDeliveries, event: outboundEvents })
    .from(webhookDeliveries)
    // The event's body never changes: read with its delivery, not again per attempt.
    .innerJoin(outboundEvents, eq(outboundEvents.id, webhookDeliveries.eventId))
    .innerJoin(webhookEndpoints, and(eq(webhookEndpoints.id, webhookDeliveries.endpointId), eq(webhookEndpoints.enabled, true)))
    .where(and(due(now), only ? inArray(webhookDeliveries.id, only) : undefined))
    .orderBy(asc(webhookDeliveries.eventSeq))
    .limit(limit)
    .all();
  if (rows.length === 0) return outcome;
  // One lane per endpoint and user, in seq order; lanes run side by side. A delivery behind an
  // earlier one that is not due is read here too, but its claim refuses it.
  const lanes = new Map<string, { d: Delivery; event: OutboundEvent }[]>();
  for (const row of rows) {
    const key = `${row.d.endpointId}\n${row.d.userId}`;
    lanes.set(key, [...(lanes.get(key) ?? []), row]);
  }
  const queue = [...lanes.values()];
  const policy = policyOf(s);
  const run = async () => {
    for (let lane = queue.shift(); lane; lane = queue.shift()) {
      for (const { d, event } of lane) {
        const result = await attempt(s, d, event, policy);
        outcome[result]++;
        // A failure holds the user's later events back: they wait for this one.
        if (result !== "delivered") break;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, queue.length) }, run));
  return outcome;
}

/**
 * Takes the delivery for this attempt round: it must still be as read (status, attempts), due,
 * and not behind an earlier delivery of its user. The winner's UPDATE bumps `attempts`, so a
 * second sender's identical UPDATE matches no row.
 */
async function claim(s: DeliverDeps, d: Delivery, now: number, policy: DeliveryPolicy): Promise<boolean> {
  const won = await s.db
    .update(webhookDeliveries)
    .set({ status: "delivering", attempts: d.attempts + 1, leaseUntil: now + policy.leaseMs })
    .where(and(eq(webhookDeliveries.id, d.id), eq(webhookDeliveries.attempts, d.attempts), due(now), sql`not ${blockedByEarlier}`))
    .returning({ id: webhookDeliveries.id })
    .all();
  return won.length === 1;
}

type Result = "delivered" | "failed" | "parked" | "disabled" | "skipped";

async function attempt(s: DeliverDeps, d: Delivery, event: OutboundEvent, policy: DeliveryPolicy): Promise<Result> {
  const now = s.clock.now();
  if (!(await claim(s, d, now, policy))) return "skipped";
  const attempts = d.attempts + 1;
  // Read after the claim: a URL, secret or switch changed meanwhile applies to this attempt.
  const endpoint = await s.db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, d.endpointId)).get();
  if (!endpoint) {
    // Deleted under us: nothing to send, nothing to record against.
    await s.db.delete(webhookDeliveries).where(eq(webhookDeliveries.id, d.id));
    return "skipped";
  }
  const sent = await send(s, endpoint, event, policy);
  const at = s.clock.now();
  const mine = and(eq(webhookDeliveries.id, d.id), eq(webhookDeliveries.status, "delivering"), eq(webhookDeliveries.attempts, attempts));
  const statements: BatchItem<"sqlite">[] = [
    s.db
      .insert(webhookAttempts)
      .values({ deliveryId: d.id, endpointId: d.endpointId, attemptedAt: now, status: sent.status, durationMs: Math.max(0, at - now), responseExcerpt: sent.excerpt, error: sent.error }),
  ];
  if (sent.ok) {
    statements.push(
      s.db.update(webhookDeliveries).set({ status: "delivered", deliveredAt: at, leaseUntil: null, nextAttemptAt: null, lastStatus: sent.status, lastError: null }).where(mine),
      s.db.update(webhookEndpoints).set({ failingSince: null }).where(eq(webhookEndpoints.id, endpoint.id)),
    );
    await s.db.batch(statements as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]);
    logAttempt(s, d, attempts, sent, at - now, "delivered");
    return "delivered";
  }
  const next = afterFailure(policy, attempts, d.roundStartedAt, at);
  statements.push(
    s.db
      .update(webhookDeliveries)
      .set(
        "parked" in next
          ? { status: "parked", leaseUntil: null, nextAttemptAt: null, lastStatus: sent.status, lastError: sent.error }
          : { status: "pending", leaseUntil: null, nextAttemptAt: next.next, lastStatus: sent.status, lastError: sent.error },
      )
      .where(mine),
    s.db
      .update(webhookEndpoints)
      .set({ failingSince: sql`coalesce(${webhookEndpoints.failingSince}, ${now})` })
      .where(eq(webhookEndpoints.id, endpoint.id)),
  );
  // Failing for the whole window (every attempt since failing_since failed, and the next would
  // fall past it, as a delivery is parked): disabled, and the admin told.
  const failingSince = endpoint.failingSince ?? now;
  const disabling = endpoint.enabled && at + delayAfter(policy, attempts) - failingSince > policy.disableAfterMs;
  if (disabling) {
    statements.push(
      s.db
        .update(webhookEndpoints)
        .set({ enabled: false, disabledReason: `every delivery failed since ${new Date(failingSince).toISOString()}`, updatedAt: at })
        .where(and(eq(webhookEndpoints.id, endpoint.id), eq(webhookEndpoints.enabled, true))),
    );
    const to = s.outbound.WEBHOOK_ADMIN_EMAIL;
    if (to && isEmailAddress(to))
      statements.push(
        enqueueEmail(s, {
          key: `${endpoint.id}:disabled:${failingSince}`,
          to,
          email: { template: "webhook_endpoint_disabled", plan: "billing", endpointId: endpoint.id, endpointUrl: endpoint.url, failingSince },
        }),
      );
  }
  await s.db.batch(statements as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]);
  logAttempt(s, d, attempts, sent, at - now, "parked" in next ? "parked" : "retrying");
  if ("parked" in next) s.log.log("warn", "outbound webhook delivery parked after its retry window", { delivery_id: d.id, endpoint_id: endpoint.id, event_id: d.eventId, attempts });
  if (disabling) s.log.log("warn", "outbound webhook endpoint disabled after failing for its whole window", { endpoint_id: endpoint.id, failing_since: failingSince });
  return disabling ? "disabled" : "parked" in next ? "parked" : "failed";
}

/** One line per attempt, as the attempts table has it (no header, body or secret). */
function logAttempt(s: DeliverDeps, d: Delivery, attempt: number, sent: Sent, durationMs: number, outcome: string): void {
  s.log.log(sent.ok ? "info" : "warn", "outbound webhook attempt", {
    delivery_id: d.id,
    endpoint_id: d.endpointId,
    event_id: d.eventId,
    attempt,
    status: sent.status,
    duration_ms: Math.max(0, durationMs),
    outcome,
    ...(sent.error ? { error: sent.error } : {}),
  });
}

interface Sent {
  ok: boolean;
  status: number | null;
  excerpt: string | null;
  error: string | null;
}

/** One POST, signed with the current secret and, for 24 h after a rotation, the previous one too. */
async function send(s: DeliverDeps, endpoint: Endpoint, event: OutboundEvent, policy: DeliveryPolicy): Promise<Sent> {
  // The rule again, at delivery: the deployment's environment may have changed since the endpoint was saved.
  const problem = webhookUrlProblem(endpoint.url, s.outbound.ENVIRONMENT);
  if (problem) return { ok: false, status: null, excerpt: null, error: `URL not allowed: ${problem}` };
  try {
    const key = s.outbound.WEBHOOK_SECRETS_KEY;
    const keys = [await signingKey(endpoint.secret, key)];
    if (endpoint.previousSecret && (endpoint.previousSecretExpiresAt ?? 0) > s.clock.now()) keys.push(await signingKey(endpoint.previousSecret, key));
    const timestamp = Math.floor(s.clock.now() / 1000);
    const signatures = await Promise.all(keys.map((k) => signature(k, event.id, timestamp, event.body)));
    const res = await fetch(endpoint.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "webhook-id": event.id,
        "webhook-timestamp": String(timestamp),
        "webhook-signature": signatures.join(" "),
        "user-agent": "federal-job-advisor-billing-webhooks",
      },
      body: event.body,
      // A redirect is not followed: it could lead anywhere the URL rule forbids.
      redirect: "manual",
      signal: AbortSignal.timeout(policy.timeoutMs),
    });
    const text = await res.text().catch(() => "");
    return { ok: res.status >= 200 && res.status < 300, status: res.status, excerpt: text.slice(0, policy.excerptChars), error: null };
  } catch (e) {
    return { ok: false, status: null, excerpt: null, error: describeError(e).slice(0, policy.excerptChars) };
  }
}
