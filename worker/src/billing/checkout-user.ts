/**
 * Whose subscription is it? The mirror reads the user id from subscription metadata, then the
 * customer's metadata (`user_id`). A subscriber who paid through Checkout may be known only by
 * the session's `client_reference_id`, the app's way to tag a session with its user; without
 * this step such a customer is mirrored user-less and the user gets no access.
 */
import { isUserId } from "../entitlements/user-id";
import type { Services } from "../services";
import { idOf } from "./mirror";
import type { Stripe } from "./stripe";

/**
 * For a completed Checkout session with a customer: resolves its user id (subscription
 * metadata, then customer metadata, then client_reference_id) and, when the customer lacks it,
 * writes it onto the Stripe customer's metadata, so every later event about the customer (in
 * whatever order they arrive) and a resync resolve the same user. The write is keyed by the
 * event, so a retried or replayed event repeats it as one request.
 * @returns the customer's user id, or null when there is none (or nothing to do).
 */
export async function linkCheckoutUser(deps: Pick<Services, "stripe" | "log">, event: Stripe.Event): Promise<string | null> {
  if (!event.type.startsWith("checkout.session.")) return null;
  const session = event.data.object as Stripe.Checkout.Session;
  const customerId = idOf(session.customer);
  if (session.status !== "complete" || !customerId) return null;
  const customer = await deps.stripe.customers.retrieve(customerId);
  if (customer.deleted) return null;
  if (customer.metadata?.user_id) return customer.metadata.user_id;
  const subscriptionId = idOf(session.subscription);
  const fromSubscription = subscriptionId ? (await deps.stripe.subscriptions.retrieve(subscriptionId)).metadata?.user_id : undefined;
  const userId = fromSubscription || session.client_reference_id;
  if (!userId) return null;
  if (!isUserId(userId)) {
    deps.log.log("warn", "a Checkout session names a user id the API cannot take; its customer stays without one", { event: event.id, session: session.id, customer: customerId });
    return null;
  }
  await deps.stripe.customers.update(customerId, { metadata: { user_id: userId } }, { idempotencyKey: `${event.id}:customer-user-id` });
  return userId;
}
