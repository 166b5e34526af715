/**
 * Whose subscription is it? The mirror reads the user id from subscription metadata, then the
 * customer's metadata (`user_id`). A subscriber who paid through Checkout may be known only by
 * the session's `client_reference_id`, the app's way to tag a session with its user; without
 * this step such a customer is mirrored user-less and the user gets no access.
 *
 * A signed event says only which session to look at: like every other event type, the session
 * is fetched again from Stripe and only Stripe's answer (status, customer, subscription,
 * client_reference_id) is acted on. A valid signature proves the sender holds the webhook
 * secret, not that Stripe made the session the payload describes.
 */
import { userIdFrom } from "../entitlements";
import type { Services } from "../services";
import { idOf } from "./mirror";
import { isMissing, Stripe } from "./stripe";

const SESSION_ID = /^cs_[A-Za-z0-9_]{1,255}$/;

/**
 * The Checkout session a `checkout.session.*` event names, as Stripe has it now.
 * @returns null for any other event type, and for a session Stripe does not know (logged: a
 *   signed event naming one means the webhook secret is in someone else's hands, or a test
 *   event from another account).
 */
export async function checkoutSessionOf(deps: Pick<Services, "stripe" | "log">, event: Stripe.Event): Promise<Stripe.Checkout.Session | null> {
  if (!event.type.startsWith("checkout.session.")) return null;
  const id = (event.data?.object as { id?: unknown } | undefined)?.id;
  if (typeof id !== "string" || !SESSION_ID.test(id)) {
    deps.log.log("warn", "a Checkout event names no Checkout session id; it changes nothing", { event: event.id });
    return null;
  }
  try {
    return await deps.stripe.checkout.sessions.retrieve(id);
  } catch (e) {
    if (!isMissing(e)) throw e;
    deps.log.log("warn", "a signed Checkout event names a session Stripe does not know; it changes nothing", { event: event.id, session: id });
    return null;
  }
}

/**
 * For a completed Checkout session (Stripe's copy, from checkoutSessionOf) with a customer:
 * resolves its user id (subscription metadata, then customer metadata, then
 * client_reference_id; each only if it is a valid user id) and, when the customer lacks it,
 * writes it onto the Stripe customer's metadata, so every later event about the customer (in
 * whatever order they arrive) and a resync resolve the same user. The write is keyed by the
 * event, so a retried or replayed event repeats it as one request.
 * @returns the customer's user id, or null when there is none (or nothing to do).
 */
export async function linkCheckoutUser(deps: Pick<Services, "stripe" | "log">, event: Stripe.Event, session: Stripe.Checkout.Session | null): Promise<string | null> {
  if (!session) return null;
  const customerId = idOf(session.customer);
  if (session.status !== "complete" || !customerId) return null;
  const customer = await deps.stripe.customers.retrieve(customerId);
  if (customer.deleted) return null;
  const onCustomer = userIdFrom(customer.metadata?.user_id);
  if (onCustomer) return onCustomer;
  const subscriptionId = idOf(session.subscription);
  const fromSubscription = subscriptionId ? userIdFrom((await deps.stripe.subscriptions.retrieve(subscriptionId)).metadata?.user_id) : null;
  const userId = fromSubscription ?? userIdFrom(session.client_reference_id);
  if (!userId) {
    if (session.client_reference_id || customer.metadata?.user_id) {
      deps.log.log("warn", "a Checkout session names a user id the API cannot take; its customer stays without one", { event: event.id, session: session.id, customer: customerId });
    }
    return null;
  }
  await deps.stripe.customers.update(customerId, { metadata: { user_id: userId } }, { idempotencyKey: `${event.id}:customer-user-id` });
  return userId;
}
