import type Stripe from "stripe";
import { diff, type Core, type RequestInfo } from "../core.ts";
import { invalidRequest } from "../errors.ts";
import { newId } from "../ids.ts";
import { clone } from "../store.ts";

const idOf = (v: string | { id: string } | null | undefined): string | null => (v === null || v === undefined ? null : typeof v === "string" ? v : v.id);

/** Stripe's `fraud_type` values (the API reference's list; stripe-node types the field as a string). */
export const FRAUD_TYPES = [
  "card_never_received",
  "fraudulent_card_application",
  "made_with_counterfeit_card",
  "made_with_lost_card",
  "made_with_stolen_card",
  "misc",
  "unauthorized_use_of_card",
] as const;

export type FraudType = (typeof FRAUD_TYPES)[number];

export const isFraudType = (v: unknown): v is FraudType => typeof v === "string" && (FRAUD_TYPES as readonly string[]).includes(v);

/**
 * Whether acting on a warning can still avoid a dispute: Stripe marks it not actionable once
 * the charge is refunded in full or already disputed, since there is nothing left to prevent.
 */
const actionableFor = (charge: Stripe.Charge): boolean => !charge.refunded && !charge.disputed;

/**
 * An issuer's early fraud warning on a succeeded charge, as Radar reports it:
 * `radar.early_fraud_warning.created`, dated on the customer's clock.
 */
export function raiseEarlyFraudWarning(core: Core, charge: Stripe.Charge, fraudType: FraudType, now: number, request: RequestInfo | null): Stripe.Radar.EarlyFraudWarning {
  if (charge.status !== "succeeded") throw invalidRequest(`Charge ${charge.id} has not succeeded: an issuer only warns about a charge that was paid.`, "charge");
  const pi = idOf(charge.payment_intent);
  const warning: Stripe.Radar.EarlyFraudWarning = {
    id: newId("issfr"),
    object: "radar.early_fraud_warning",
    actionable: actionableFor(charge),
    charge: charge.id,
    created: now,
    fraud_type: fraudType,
    livemode: false,
    ...(pi ? { payment_intent: pi } : {}),
  };
  core.state.earlyFraudWarnings.set(warning.id, warning);
  core.emit({ type: "radar.early_fraud_warning.created", data: { object: warning } }, now, request);
  return warning;
}

/**
 * A charge refunded in full or disputed: its actionable warnings stop being actionable, each with
 * `radar.early_fraud_warning.updated`. Called wherever the charge changes that way.
 */
export function settleEarlyFraudWarnings(core: Core, charge: Stripe.Charge, now: number, request: RequestInfo | null): void {
  if (actionableFor(charge)) return;
  for (const warning of core.state.earlyFraudWarnings.values()) {
    if (warning.charge !== charge.id || !warning.actionable) continue;
    const before = clone(warning);
    warning.actionable = false;
    core.emit({ type: "radar.early_fraud_warning.updated", data: { object: warning, previous_attributes: diff(before, warning) } }, now, request);
  }
}
