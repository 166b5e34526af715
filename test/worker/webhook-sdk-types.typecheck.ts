/**
 * The SDK's webhook event types (packages/entitlements/src/webhooks.ts) are written by hand, as a
 * published package cannot import the worker; `tsc -b` compares them here with the worker's own
 * wire types, both ways, so a field added, renamed or retyped on one side fails the type check.
 */
import type { DunningStage as SdkDunningStage, WebhookEntitlement, WebhookEventType, WebhookInvoice, WebhookRefund, WebhookSubscription } from "../../packages/entitlements/src/webhooks.ts";
import type { DunningStage } from "../../worker/src/dunning";
import type { EventType } from "../../worker/src/outbox";
import type { EntitlementWire, InvoiceWire, RefundWire, SubscriptionWire } from "../../worker/src/presenters";

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Writable<T> = T extends string | number | boolean | null | undefined ? T : T extends readonly (infer E)[] ? Writable<E>[] : T extends object ? { -readonly [K in keyof T]: Writable<T[K]> } : T;

/** The entitlement of `entitlement.changed`: the token's claims without iss/aud/sub/iat/exp, as the entitlement resource has them. */
type WireEntitlement = Pick<EntitlementWire, "tier" | "status" | "features" | "limits" | "trial_end" | "grace_until">;

export const sameSubscription: Same<Writable<WebhookSubscription>, SubscriptionWire> = true;
export const sameInvoice: Same<Writable<WebhookInvoice>, InvoiceWire> = true;
export const sameRefund: Same<Writable<WebhookRefund>, RefundWire> = true;
export const sameEntitlement: Same<Writable<WebhookEntitlement>, WireEntitlement> = true;
export const sameDunningStage: Same<SdkDunningStage, DunningStage> = true;
/** Every type the worker sends is one the SDK's `WebhookEvent` names, and no other. */
export const sameEventTypes: Same<WebhookEventType, EventType> = true;
