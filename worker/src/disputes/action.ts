/**
 * The sync's event action for disputes (services.ts EventAction): the first event of a dispute
 * the worker processes decides it by the policy, whichever of Stripe's dispute events that is.
 * When access ends, the subscription the disputed charge paid is cancelled at once, by the path a
 * refund that ends access takes (refunds/endAccessNow). The decision is then written on the
 * dispute itself (`metadata.access_policy`, `metadata.policy_rule`), so every later event, a
 * replay and a resync find it decided. Two events of one dispute processed at once may both
 * decide: they decide alike and make the same calls under the same idempotency keys, and the sync
 * audits the decision once (stripe-sync/dispute-sync.ts).
 */
import { disputedCharge, disputePolicyAction, invoiceSubscriptionId, type Stripe } from "../stripe-sync";
import { CLEARED_DISPUTE_STATUSES } from "../db/schema";
import { endAccessNow } from "../refunds";
import type { EventActionResult, Services } from "../services";
import { decideDispute, disputePolicy, type DisputePolicy } from "./policy";

export async function disputeEventAction(deps: Pick<Services, "stripe">, event: Stripe.Event, policy: DisputePolicy = disputePolicy): Promise<EventActionResult> {
  const none: EventActionResult = { subscriptions: [], entries: [] };
  const obj = event.data.object as { id?: string; object?: string };
  if (!event.type.startsWith("charge.dispute.") || obj.object !== "dispute" || typeof obj.id !== "string") return none;
  // What Stripe says now decides, not the payload: it may already carry a decision made since.
  const dispute = await deps.stripe.disputes.retrieve(obj.id);
  if (disputePolicyAction(dispute) !== null || CLEARED_DISPUTE_STATUSES.has(dispute.status)) return none;
  const decision = decideDispute(policy, dispute.reason);
  const key = `dispute-policy:${dispute.id}`;
  let canceled: string | null = null;
  if (decision.action === "end_access") {
    const { invoiceId } = await disputedCharge(deps.stripe, dispute);
    const inv = invoiceId ? await deps.stripe.invoices.retrieve(invoiceId) : null;
    const subId = inv ? invoiceSubscriptionId(inv) : null;
    const sub = subId ? await deps.stripe.subscriptions.retrieve(subId) : null;
    if (sub && (await endAccessNow(deps, sub, { comment: `dispute ${dispute.id} (${dispute.reason}): access ended (${decision.rule})`, key }))) canceled = sub.id;
  }
  // Written after the cancellation: a failure between the two leaves the dispute undecided, and
  // the retry decides again and finds the subscription already cancelled.
  await deps.stripe.disputes.update(dispute.id, { metadata: { access_policy: decision.action, policy_rule: decision.rule }, submit: false }, { idempotencyKey: `${key}:decided` });
  return { subscriptions: canceled ? [canceled] : [], entries: [] };
}
