import type Stripe from "stripe";
import { testCardForToken, tokenForCardNumber } from "../cards.ts";
import { diff, type Core, type RequestInfo } from "../core.ts";
import type { Ctx } from "../context.ts";
import type { CardDecline } from "../errors.ts";
import { cardError, invalidRequest, resourceMissing } from "../errors.ts";
import { newId } from "../ids.ts";
import { listFields, mergeMetadata, obj, s, str, validate, type Params } from "../form.ts";
import { newestFirst, paginate } from "../list.ts";
import { clone, type PaymentMethodRecovery } from "../store.ts";
import { addressFields, addressFrom, requireCustomer } from "./common.ts";

export interface CardExpiry {
  month: number;
  year: number;
}

/**
 * Stripe's checks of an expiry it is given: a month 1–12, a four-digit year, and not already
 * past (a card is valid through the end of its month), each refused with the card error Stripe
 * uses and the parameter it names.
 */
export function checkExpiry(exp: CardExpiry, nowMs: number, params: { month: string; year: string }): void {
  const invalidMonth = () => cardError({ code: "invalid_expiry_month", message: "Your card's expiration month is invalid." }, { param: params.month });
  const invalidYear = () => cardError({ code: "invalid_expiry_year", message: "Your card's expiration year is invalid." }, { param: params.year });
  if (exp.month < 1 || exp.month > 12) throw invalidMonth();
  if (exp.year < 1000 || exp.year > 9999) throw invalidYear();
  const now = new Date(nowMs);
  const year = now.getUTCFullYear();
  if (exp.year < year) throw invalidYear();
  if (exp.year === year && exp.month < now.getUTCMonth() + 1) throw invalidMonth();
}

function cardPaymentMethod(core: Core, token: string, now: number, param: string, expiry?: CardExpiry): Stripe.PaymentMethod {
  const card = testCardForToken(token);
  if (!card) throw resourceMissing("PaymentMethod", token, param);
  const pm: Stripe.PaymentMethod = {
    id: newId("pm"),
    object: "payment_method",
    allow_redisplay: "unspecified",
    billing_details: { address: { city: null, country: null, line1: null, line2: null, postal_code: null, state: null }, email: null, name: null, phone: null, tax_id: null },
    card: {
      brand: card.brand,
      checks: { address_line1_check: null, address_postal_code_check: null, cvc_check: "pass" },
      country: card.country,
      display_brand: card.brand,
      exp_month: expiry?.month ?? 12,
      exp_year: expiry?.year ?? new Date(now * 1000).getUTCFullYear() + 3,
      fingerprint: `fp${card.last4}${card.brand}`,
      funding: card.funding,
      generated_from: null,
      last4: card.last4,
      networks: { available: [card.brand], preferred: null },
      regulated_status: "unregulated",
      three_d_secure_usage: { supported: true },
      wallet: null,
    },
    created: now,
    customer: null,
    customer_account: null,
    livemode: false,
    metadata: {},
    type: "card",
  };
  core.state.paymentMethods.set(pm.id, pm);
  core.state.paymentMethodTokens.set(pm.id, token.replace(/^tok_/, "pm_card_"));
  return pm;
}

/**
 * Resolves a payment method reference: a real `pm_` id, or a test shortcut (`pm_card_visa`)
 * which, as on Stripe, mints a new payment method each time it is used.
 */
export function resolvePaymentMethod(core: Core, ref: string, now: number, param: string): Stripe.PaymentMethod {
  const existing = core.state.paymentMethods.get(ref);
  if (existing) return existing;
  return cardPaymentMethod(core, ref, now, param);
}

export function attachPaymentMethod(core: Core, pm: Stripe.PaymentMethod, customerId: string, request: RequestInfo | null): Stripe.PaymentMethod {
  if (pm.customer === customerId) return pm;
  if (pm.customer !== null) {
    throw invalidRequest(`The payment method you provided has already been attached to a customer.`, "payment_method", "payment_method_unexpected_state");
  }
  pm.customer = customerId;
  core.emit({ type: "payment_method.attached", data: { object: pm } }, core.nowForCustomer(customerId), request);
  return pm;
}

/** The test card's own decline, before any recovery rule: null = a card that succeeds. */
export function cardDeclineOf(core: Core, pmId: string): CardDecline | null {
  const token = core.state.paymentMethodTokens.get(pmId);
  return token ? (testCardForToken(token)?.decline ?? null) : null;
}

/**
 * The outcome of charging this payment method at `now` (the customer's time): null = success.
 * A declining card set to recover succeeds once its recovery time or attempt count is reached.
 * This only looks; `recordChargeAttempt` counts an attempt that was made.
 */
export function declineFor(core: Core, pmId: string, now: number): CardDecline | null {
  const decline = cardDeclineOf(core, pmId);
  const rec = core.state.paymentMethodRecovery.get(pmId);
  if (decline && rec) {
    if (rec.at !== null && now >= rec.at) return null;
    if (rec.afterAttempts !== null && rec.attempts >= rec.afterAttempts) return null;
  }
  return decline;
}

export function recordChargeAttempt(core: Core, pmId: string): void {
  const rec = core.state.paymentMethodRecovery.get(pmId);
  if (rec) rec.attempts += 1;
}

/**
 * Sets when a declining test payment method recovers. Attempts made with it before are counted
 * (from its charges), so `afterAttempts: 3` means its 4th charge attempt ever succeeds.
 */
export function setRecovery(core: Core, pm: Stripe.PaymentMethod, rule: { afterAttempts: number | null; at: number | null }, param: string): PaymentMethodRecovery {
  if (cardDeclineOf(core, pm.id) === null)
    throw invalidRequest(`The payment method ${pm.id} does not decline, so it has nothing to recover from: use a declining test card (e.g. pm_card_chargeDeclinedInsufficientFunds).`, param);
  if (rule.afterAttempts === null && rule.at === null) throw invalidRequest("Give after_attempts (a whole number ≥ 0) or at (unix seconds), or both.", param, "parameter_missing");
  let attempts = 0;
  for (const ch of core.state.charges.values()) if (ch.payment_method === pm.id) attempts++;
  const rec: PaymentMethodRecovery = { afterAttempts: rule.afterAttempts, at: rule.at, attempts };
  core.state.paymentMethodRecovery.set(pm.id, rec);
  return rec;
}

/** `metadata[emulator_recover_after_attempts]` / `metadata[emulator_recover_at]` on create. */
export const RECOVER_AFTER_ATTEMPTS_KEY = "emulator_recover_after_attempts";
export const RECOVER_AT_KEY = "emulator_recover_at";

function recoveryFromMetadata(meta: Record<string, string>): { afterAttempts: number | null; at: number | null } | null {
  const n = meta[RECOVER_AFTER_ATTEMPTS_KEY];
  const at = meta[RECOVER_AT_KEY];
  if (n === undefined && at === undefined) return null;
  const whole = (v: string | undefined, key: string): number | null => {
    if (v === undefined) return null;
    if (!/^\d+$/.test(v)) throw invalidRequest(`metadata[${key}] must be a whole number, got "${v}".`, `metadata[${key}]`);
    return Number(v);
  };
  return { afterAttempts: whole(n, RECOVER_AFTER_ATTEMPTS_KEY), at: whole(at, RECOVER_AT_KEY) };
}

const createFields = {
  type: s.enum("card"),
  card: s.obj({ token: s.str(), number: s.str(), exp_month: s.int(), exp_year: s.int(), cvc: s.str() }),
  billing_details: s.obj({ address: s.obj(addressFields), email: s.str(), name: s.str(), phone: s.str() }),
  metadata: s.meta(),
  payment_method: s.str(),
  customer: s.str(),
};

export function createPaymentMethod(ctx: Ctx): Stripe.PaymentMethod {
  const p = validate(ctx.raw, createFields);
  const now = ctx.core.realNow();
  const existing = str(p, "payment_method");
  const card = obj(p, "card");
  const number = str(card, "number");
  const token = existing ?? str(card, "token") ?? (number === undefined ? undefined : tokenForCardNumber(number)) ?? "pm_card_visa";
  if (str(p, "type") === undefined && existing === undefined) throw invalidRequest("Missing required param: type.", "type", "parameter_missing");
  const metadata = mergeMetadata(null, obj(p, "metadata"), false);
  const recovery = recoveryFromMetadata(metadata);
  if (recovery) {
    const decline = testCardForToken(token)?.decline;
    if (!decline) throw invalidRequest(`metadata[${RECOVER_AFTER_ATTEMPTS_KEY}] / metadata[${RECOVER_AT_KEY}] need a declining test card; ${token} does not decline.`, "metadata");
  }
  const expiry = card ? expiryParams(card, undefined) : undefined;
  if (expiry) checkExpiry(expiry, ctx.core.realNowMs(), { month: "card[exp_month]", year: "card[exp_year]" });
  const pm = cardPaymentMethod(ctx.core, token, now, existing ? "payment_method" : "card[token]", expiry);
  if (recovery) setRecovery(ctx.core, pm, recovery, "metadata");
  const bd = obj(p, "billing_details");
  if (bd) {
    pm.billing_details = {
      address: addressFrom(obj(bd, "address")) ?? pm.billing_details.address,
      email: str(bd, "email") ?? null,
      name: str(bd, "name") ?? null,
      phone: str(bd, "phone") ?? null,
      tax_id: null,
    };
  }
  pm.metadata = metadata;
  return pm;
}

export function retrievePaymentMethod(ctx: Ctx): Stripe.PaymentMethod {
  validate(ctx.raw, {});
  const id = ctx.path.id ?? "";
  const pm = ctx.core.state.paymentMethods.get(id);
  if (!pm) throw resourceMissing("PaymentMethod", id);
  return pm;
}

export function updatePaymentMethod(ctx: Ctx): Stripe.PaymentMethod {
  const p = validate(ctx.raw, {
    metadata: s.meta(),
    billing_details: s.obj({ address: s.obj(addressFields), email: s.str(), name: s.str(), phone: s.str() }),
    card: s.obj({ exp_month: s.int(), exp_year: s.int() }),
  });
  const pm = retrievePaymentMethod({ ...ctx, raw: {} });
  const before = clone(pm);
  const card = obj(p, "card");
  if (card) {
    if (!pm.card) throw invalidRequest(`The payment method ${pm.id} is not a card, so it has no card details to update.`, "card");
    // Either part may be given alone; the other keeps its value, and the pair is checked as a whole.
    const expiry = expiryParams(card, { month: pm.card.exp_month, year: pm.card.exp_year });
    if (expiry) {
      checkExpiry(expiry, ctx.core.realNowMs(), { month: "card[exp_month]", year: "card[exp_year]" });
      pm.card = { ...pm.card, exp_month: expiry.month, exp_year: expiry.year };
    }
  }
  pm.metadata = mergeMetadata(pm.metadata, obj(p, "metadata"), false);
  const bd = obj(p, "billing_details");
  if (bd) {
    const addr = obj(bd, "address");
    pm.billing_details = {
      ...pm.billing_details,
      ...(addr ? { address: addressFrom(addr) } : {}),
      ...(str(bd, "email") !== undefined ? { email: str(bd, "email") ?? null } : {}),
      ...(str(bd, "name") !== undefined ? { name: str(bd, "name") ?? null } : {}),
    };
  }
  const previous: Record<string, unknown> = diff(before, pm);
  // Stripe names only the card fields that changed, not the whole card.
  if (previous.card && before.card && pm.card) previous.card = diff(before.card, pm.card);
  ctx.core.emit({ type: "payment_method.updated", data: { object: pm, previous_attributes: previous } }, ctx.core.realNow(), ctx.request);
  return pm;
}

/**
 * What a card network's account updater does (Stripe's "automatic card updates"): the issuer
 * reissued the card, so Stripe updates the saved card's expiry (and last4 when the number
 * changed) itself and sends `payment_method.automatically_updated`. Test mode has no trigger
 * for it; the emulator's control endpoint calls this.
 */
export function automaticallyUpdateCard(core: Core, pm: Stripe.PaymentMethod, update: { expMonth: number | null; expYear: number | null; last4: string | null }): Stripe.PaymentMethod {
  if (!pm.card) throw invalidRequest(`The payment method ${pm.id} is not a card; only cards are updated by card networks.`);
  if (update.expMonth === null && update.expYear === null && update.last4 === null) throw invalidRequest("Give at least one of exp_month, exp_year and last4: what the card network changed.");
  if (update.last4 !== null && !/^\d{4}$/.test(update.last4)) throw invalidRequest(`Invalid last4: must be 4 digits, got ${JSON.stringify(update.last4)}.`, "last4");
  const expiry = { month: update.expMonth ?? pm.card.exp_month, year: update.expYear ?? pm.card.exp_year };
  checkExpiry(expiry, core.realNowMs(), { month: "exp_month", year: "exp_year" });
  const before = clone(pm.card);
  pm.card = { ...pm.card, exp_month: expiry.month, exp_year: expiry.year, ...(update.last4 !== null ? { last4: update.last4 } : {}) };
  // Stripe names only the card fields that changed, as for payment_method.updated.
  const previous: Record<string, unknown> = { card: diff(before, pm.card) };
  core.emit(
    { type: "payment_method.automatically_updated", data: { object: pm, previous_attributes: previous } },
    core.nowForCustomer(typeof pm.customer === "string" ? pm.customer : (pm.customer?.id ?? null)),
    null,
  );
  return pm;
}

/**
 * The expiry in `card[exp_month]` / `card[exp_year]`. On create both are needed together; on
 * update (`current` given) either may come alone.
 */
function expiryParams(card: Params, current: CardExpiry | undefined): CardExpiry | undefined {
  const month = card.exp_month;
  const year = card.exp_year;
  if (typeof month !== "number" && typeof year !== "number") return undefined;
  if (current) return { month: typeof month === "number" ? month : current.month, year: typeof year === "number" ? year : current.year };
  if (typeof month !== "number") throw invalidRequest("Missing required param: card[exp_month].", "card[exp_month]", "parameter_missing");
  if (typeof year !== "number") throw invalidRequest("Missing required param: card[exp_year].", "card[exp_year]", "parameter_missing");
  return { month, year };
}

export function attachPaymentMethodRoute(ctx: Ctx): Stripe.PaymentMethod {
  const p = validate(ctx.raw, { customer: s.req(s.str()) });
  const customerId = str(p, "customer") ?? "";
  requireCustomer(ctx.core, customerId);
  const now = ctx.core.nowForCustomer(customerId);
  const pm = resolvePaymentMethod(ctx.core, ctx.path.id ?? "", now, "payment_method");
  return attachPaymentMethod(ctx.core, pm, customerId, ctx.request);
}

export function detachPaymentMethod(ctx: Ctx): Stripe.PaymentMethod {
  validate(ctx.raw, {});
  const pm = retrievePaymentMethod({ ...ctx, raw: {} });
  const customerId = typeof pm.customer === "string" ? pm.customer : null;
  if (customerId === null) throw invalidRequest("The payment method you provided is not attached to a customer so detachment is impossible.", undefined, "payment_method_unexpected_state");
  const customer = ctx.core.state.customers.get(customerId);
  if (customer && customer.invoice_settings.default_payment_method === pm.id) {
    const before = clone(customer);
    customer.invoice_settings.default_payment_method = null;
    ctx.core.emit({ type: "customer.updated", data: { object: customer, previous_attributes: diff(before, customer) } }, ctx.core.nowForCustomer(customerId), ctx.request);
  }
  pm.customer = null;
  ctx.core.emit({ type: "payment_method.detached", data: { object: pm, previous_attributes: { customer: customerId } } }, ctx.core.nowForCustomer(customerId), ctx.request);
  return pm;
}

export function listPaymentMethods(ctx: Ctx): Stripe.ApiList<Stripe.PaymentMethod> {
  const p = validate(ctx.raw, { ...listFields, customer: s.str(), type: s.str() });
  const customer = str(p, "customer") ?? ctx.path.customer;
  const all = newestFirst(ctx.core.state.paymentMethods).filter((pm) => customer === undefined || pm.customer === customer);
  return paginate(all, p, customer && ctx.path.customer ? `/v1/customers/${customer}/payment_methods` : "/v1/payment_methods");
}
