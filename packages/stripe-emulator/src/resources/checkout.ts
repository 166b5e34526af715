import type Stripe from "stripe";
import type { Core, RequestInfo } from "../core.ts";
import type { Ctx } from "../context.ts";
import { invalidRequest, resourceMissing } from "../errors.ts";
import { arr, bool, int, isJsonRecord, listFields, mergeMetadata, obj, s, str, strs, validate, type Params } from "../form.ts";
import { newId, randomToken } from "../ids.ts";
import { paginate } from "../list.ts";
import { clone } from "../store.ts";
import { createSubscription } from "../billing/lifecycle.ts";
import { taxOn, taxRateFor } from "../tax.ts";
import { addressFields, addressFrom, requirePrice } from "./common.ts";
import { attachPaymentMethod, resolvePaymentMethod } from "./payment-methods.ts";
import { resolveDiscounts } from "./subscriptions.ts";

const createFields = {
  mode: s.req(s.enum("subscription", "payment", "setup")),
  line_items: s.arr(s.obj({ price: s.str(), quantity: s.int({ min: 1 }), adjustable_quantity: s.obj({ enabled: s.bool() }, { open: true }) })),
  success_url: s.str(),
  cancel_url: s.str(),
  return_url: s.str(),
  ui_mode: s.enum("hosted", "embedded", "custom"),
  customer: s.str(),
  customer_email: s.str(),
  customer_creation: s.enum("always", "if_required"),
  client_reference_id: s.str(),
  metadata: s.meta(),
  allow_promotion_codes: s.bool(),
  discounts: s.arr(s.obj({ coupon: s.str(), promotion_code: s.str() })),
  automatic_tax: s.obj({ enabled: s.req(s.bool()) }),
  billing_address_collection: s.enum("auto", "required"),
  customer_update: s.obj({ address: s.enum("auto", "never"), name: s.enum("auto", "never"), shipping: s.enum("auto", "never") }),
  payment_method_types: s.arr(s.str()),
  payment_method_collection: s.enum("always", "if_required"),
  locale: s.str(),
  expires_at: s.ts(),
  subscription_data: s.obj({
    trial_period_days: s.int({ min: 1, max: 730 }),
    trial_end: s.ts(),
    metadata: s.meta(),
    description: s.str(),
    trial_settings: s.obj({ end_behavior: s.obj({ missing_payment_method: s.enum("cancel", "create_invoice", "pause") }) }),
  }),
  tax_id_collection: s.obj({ enabled: s.bool() }),
  consent_collection: s.obj({ terms_of_service: s.str(), promotions: s.str() }),
  custom_text: s.obj({
    after_submit: s.obj({ message: s.req(s.str()) }),
    shipping_address: s.obj({ message: s.req(s.str()) }),
    submit: s.obj({ message: s.req(s.str()) }),
    terms_of_service_acceptance: s.obj({ message: s.req(s.str()) }),
  }),
};

/** A custom text of the session's as Stripe shows it: `{ message }`, or null when not set. */
function customText(p: Params, key: string): { message: string } | null {
  const message = str(obj(obj(p, "custom_text"), key), "message");
  return message === undefined ? null : { message };
}

export function createCheckoutSession(ctx: Ctx): Stripe.Checkout.Session {
  const p = validate(ctx.raw, createFields);
  const core = ctx.core;
  const mode = str(p, "mode");
  const customerId = str(p, "customer") ?? null;
  if (customerId !== null && !core.state.customers.has(customerId)) throw resourceMissing("customer", customerId, "customer");
  if (customerId !== null && str(p, "customer_email") !== undefined) throw invalidRequest("You may only specify one of these parameters: customer, customer_email.", "customer_email");
  const uiMode = str(p, "ui_mode") ?? "hosted";
  if (uiMode === "hosted" && mode !== "setup" && str(p, "success_url") === undefined) throw invalidRequest("Missing required param: success_url.", "success_url", "parameter_missing");
  const rawItems = (arr(p, "line_items") ?? []).filter(isJsonRecord);
  if (mode !== "setup" && rawItems.length === 0) throw invalidRequest("Missing required param: line_items.", "line_items", "parameter_missing");
  const items = rawItems.map((it, i) => {
    const priceId = str(it, "price");
    if (priceId === undefined) throw invalidRequest(`Missing required param: line_items[${i}][price].`, `line_items[${i}][price]`, "parameter_missing");
    const price = requirePrice(core, priceId, `line_items[${i}][price]`);
    if (mode === "subscription" && price.type !== "recurring")
      throw invalidRequest("You must provide at least one recurring price in `subscription` mode when using prices.", `line_items[${i}][price]`);
    return { price, quantity: int(it, "quantity") ?? 1 };
  });
  if (bool(p, "allow_promotion_codes") && arr(p, "discounts") !== undefined) throw invalidRequest("You may only specify one of these parameters: allow_promotion_codes, discounts.", "discounts");
  resolveDiscounts(core, p, customerId);
  const now = customerId ? core.nowForCustomer(customerId) : core.realNow();
  const id = `cs_test_${randomToken(58)}`;
  const subtotal = items.reduce((acc, it) => acc + (it.price.unit_amount ?? 0) * it.quantity, 0);
  const sd = obj(p, "subscription_data");
  const trial = int(sd, "trial_period_days") !== undefined || int(sd, "trial_end") !== undefined;
  const due = mode === "subscription" && trial ? 0 : subtotal;
  const automaticTax = bool(obj(p, "automatic_tax"), "enabled") ?? false;
  const session: Stripe.Checkout.Session = {
    id,
    object: "checkout.session",
    adaptive_pricing: null,
    after_expiration: null,
    allow_promotion_codes: bool(p, "allow_promotion_codes") ?? null,
    allowed_payment_method_types: null,
    amount_subtotal: due,
    amount_total: due,
    automatic_tax: { enabled: automaticTax, liability: automaticTax ? { type: "self" } : null, provider: automaticTax ? "stripe" : null, status: automaticTax ? "requires_location_inputs" : null },
    billing_address_collection: str(p, "billing_address_collection") === "required" ? "required" : str(p, "billing_address_collection") === "auto" ? "auto" : null,
    cancel_url: str(p, "cancel_url") ?? null,
    client_reference_id: str(p, "client_reference_id") ?? null,
    client_secret: uiMode === "hosted" ? null : `${id}_secret_${randomToken(24)}`,
    collected_information: null,
    consent: null,
    consent_collection: null,
    created: now,
    currency: items[0]?.price.currency ?? null,
    currency_conversion: null,
    custom_fields: [],
    custom_text: {
      after_submit: customText(p, "after_submit"),
      shipping_address: customText(p, "shipping_address"),
      submit: customText(p, "submit"),
      terms_of_service_acceptance: customText(p, "terms_of_service_acceptance"),
    },
    customer: customerId,
    customer_account: null,
    customer_creation: customerId ? null : str(p, "customer_creation") === "if_required" ? "if_required" : "always",
    customer_details:
      customerId || str(p, "customer_email")
        ? {
            address: null,
            business_name: null,
            email: str(p, "customer_email") ?? core.state.customers.get(customerId ?? "")?.email ?? null,
            individual_name: null,
            name: null,
            phone: null,
            tax_exempt: "none",
            tax_ids: [],
          }
        : null,
    customer_email: str(p, "customer_email") ?? null,
    discounts: (arr(p, "discounts") ?? []).filter(isJsonRecord).map((d) => ({ coupon: str(d, "coupon") ?? null, promotion_code: str(d, "promotion_code") ?? null })),
    expires_at: int(p, "expires_at") ?? now + 24 * 3600,
    integration_identifier: null,
    invoice: null,
    invoice_creation: null,
    livemode: false,
    locale: null,
    managed_payments: null,
    metadata: mergeMetadata(null, obj(p, "metadata"), false),
    mode: mode === "payment" ? "payment" : mode === "setup" ? "setup" : "subscription",
    origin_context: null,
    payment_intent: null,
    payment_link: null,
    payment_method_collection: mode === "subscription" ? (str(p, "payment_method_collection") === "if_required" ? "if_required" : "always") : null,
    payment_method_configuration_details: null,
    payment_method_options: {},
    payment_method_types: strs(p, "payment_method_types") ?? ["card"],
    payment_status: "unpaid",
    permissions: null,
    phone_number_collection: { enabled: false },
    recovered_from: null,
    saved_payment_method_options: null,
    setup_intent: null,
    shipping_address_collection: null,
    shipping_cost: null,
    shipping_options: [],
    status: "open",
    submit_type: null,
    subscription: null,
    success_url: str(p, "success_url") ?? null,
    total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
    ui_mode: uiMode === "embedded" ? "embedded" : uiMode === "custom" ? "custom" : "hosted",
    url: uiMode === "hosted" ? `${core.baseUrl}/_emulator/checkout/${id}` : null,
    wallet_options: null,
  };
  core.state.checkoutSessions.set(id, session);
  core.state.checkoutLineItems.set(
    id,
    items.map((it) => ({
      id: newId("li"),
      object: "item",
      adjustable_quantity: null,
      amount_discount: 0,
      amount_subtotal: (it.price.unit_amount ?? 0) * it.quantity,
      amount_tax: 0,
      amount_total: (it.price.unit_amount ?? 0) * it.quantity,
      currency: it.price.currency,
      description: core.state.products.get(typeof it.price.product === "string" ? it.price.product : it.price.product.id)?.name ?? null,
      metadata: {},
      price: clone(it.price),
      quantity: it.quantity,
    })),
  );
  sessionParams.set(id, p);
  return session;
}

/** The validated create params, needed again when the buyer completes the session. */
const sessionParams = new Map<string, Params>();

/** The free trial a subscription-mode session will give, in whole days (0 for none). */
export function sessionTrialDays(session: Stripe.Checkout.Session): number {
  if (session.mode !== "subscription") return 0;
  const sd = obj(sessionParams.get(session.id) ?? {}, "subscription_data");
  const days = int(sd, "trial_period_days");
  if (days !== undefined) return days;
  const end = int(sd, "trial_end");
  return end !== undefined ? Math.max(0, Math.ceil((end - session.created) / 86_400)) : 0;
}

export function requireSession(core: Core, id: string): Stripe.Checkout.Session {
  const session = core.state.checkoutSessions.get(id);
  if (!session) throw resourceMissing("checkout.session", id);
  return session;
}

export function retrieveCheckoutSession(ctx: Ctx): Stripe.Checkout.Session {
  validate(ctx.raw, {});
  return requireSession(ctx.core, ctx.path.id ?? "");
}

export function listCheckoutSessions(ctx: Ctx): Stripe.ApiList<Stripe.Checkout.Session> {
  const p = validate(ctx.raw, { ...listFields, customer: s.str(), subscription: s.str(), status: s.str(), payment_intent: s.str() });
  const customer = str(p, "customer");
  const subscription = str(p, "subscription");
  const status = str(p, "status");
  const all = [...ctx.core.state.checkoutSessions.values()]
    .reverse()
    .filter((x) => (customer === undefined || x.customer === customer) && (subscription === undefined || x.subscription === subscription) && (status === undefined || x.status === status));
  return paginate(all, p, "/v1/checkout/sessions");
}

export function listCheckoutLineItems(ctx: Ctx): Stripe.ApiList<Stripe.LineItem> {
  const p = validate(ctx.raw, listFields);
  const session = requireSession(ctx.core, ctx.path.id ?? "");
  return paginate(ctx.core.state.checkoutLineItems.get(session.id) ?? [], p, `/v1/checkout/sessions/${session.id}/line_items`);
}

export function expireCheckoutSession(ctx: Ctx): Stripe.Checkout.Session {
  validate(ctx.raw, {});
  const session = requireSession(ctx.core, ctx.path.id ?? "");
  if (session.status !== "open")
    throw invalidRequest(`Only Checkout Sessions with a status in ["open"] can be expired. This Checkout Session has a status of ${session.status}.`, undefined, "checkout_session_not_open");
  session.status = "expired";
  ctx.core.emit({ type: "checkout.session.expired", data: { object: session } }, ctx.core.realNow(), ctx.request);
  return session;
}

export const completeFields = {
  payment_method: s.str(),
  email: s.str(),
  name: s.str(),
  address: s.obj(addressFields),
  promotion_code: s.str(),
};

/**
 * What the buyer does on the hosted page: give an email (and address), enter a card, maybe a
 * promotion code, and pay. Creates (or reuses) the customer, attaches the card, creates the
 * subscription with the session's trial and metadata, and emits checkout.session.completed.
 */
export function completeCheckoutSession(core: Core, id: string, p: Params, request: RequestInfo | null): Stripe.Checkout.Session {
  const session = requireSession(core, id);
  if (session.status !== "open") throw invalidRequest(`This Checkout Session is no longer active (status ${session.status}).`, undefined, "checkout_session_not_open");
  const created = sessionParams.get(id) ?? {};
  const promoCode = str(p, "promotion_code");
  let promoId: string | undefined;
  if (promoCode !== undefined) {
    if (!session.allow_promotion_codes) throw invalidRequest("This Checkout Session does not accept promotion codes.", "promotion_code");
    const promo = [...core.state.promotionCodes.values()].find((x) => x.active && x.code.toLowerCase() === promoCode.toLowerCase());
    if (!promo) throw invalidRequest(`No such promotion code: '${promoCode}'`, "promotion_code", "resource_missing");
    promoId = promo.id;
  }
  const email = str(p, "email") ?? session.customer_email ?? session.customer_details?.email ?? null;
  const address = addressFrom(obj(p, "address"));
  const pmRef = str(p, "payment_method") ?? "pm_card_visa";
  let customer = typeof session.customer === "string" ? core.state.customers.get(session.customer) : undefined;
  const now = customer ? core.nowForCustomer(customer.id) : core.realNow();
  const pm = resolvePaymentMethod(core, pmRef, now, "payment_method");
  if (!customer) {
    customer = {
      id: newId("cus"),
      object: "customer",
      address,
      balance: 0,
      created: now,
      currency: null,
      default_source: null,
      delinquent: false,
      description: null,
      discount: null,
      email,
      invoice_prefix: randomToken(8).toUpperCase(),
      invoice_settings: { custom_fields: null, default_payment_method: null, footer: null, rendering_options: null },
      livemode: false,
      metadata: {},
      name: str(p, "name") ?? null,
      next_invoice_sequence: 1,
      phone: null,
      preferred_locales: [],
      shipping: null,
      tax_exempt: "none",
      test_clock: null,
    };
    core.state.customers.set(customer.id, customer);
    core.emit({ type: "customer.created", data: { object: customer } }, now, request);
  } else if (address && !customer.address) {
    const before = clone(customer);
    customer.address = address;
    core.emit({ type: "customer.updated", data: { object: customer, previous_attributes: { address: before.address } } }, now, request);
  }
  attachPaymentMethod(core, pm, customer.id, request);
  const items = (core.state.checkoutLineItems.get(id) ?? []).flatMap((li) => (li.price ? [{ price: li.price, quantity: li.quantity ?? 1, metadata: {} }] : []));
  const sd = obj(created, "subscription_data");
  const days = int(sd, "trial_period_days");
  const trialEnd = int(sd, "trial_end") ?? (days !== undefined ? now + days * 86_400 : null);
  const discounts = resolveDiscounts(core, created, customer.id);
  if (promoId !== undefined) {
    const promo = core.state.promotionCodes.get(promoId);
    const c = promo?.promotion.coupon;
    if (typeof c === "string") discounts.push({ coupon: c, promotionCode: promoId });
  }
  session.customer = customer.id;
  session.customer_details = {
    address: customer.address ? clone(customer.address) : null,
    business_name: null,
    email: customer.email,
    individual_name: null,
    name: customer.name ?? null,
    phone: null,
    tax_exempt: "none",
    tax_ids: [],
  };
  if (session.mode === "subscription") {
    const missing = str(obj(obj(sd, "trial_settings"), "end_behavior"), "missing_payment_method");
    const sub = createSubscription(
      core,
      {
        customer,
        items,
        trialEnd,
        metadata: mergeMetadata(null, obj(sd, "metadata"), false),
        defaultPaymentMethod: pm.id,
        automaticTax: session.automatic_tax.enabled,
        discounts,
        paymentBehavior: "error_if_incomplete",
        cancelAtPeriodEnd: false,
        missingPaymentMethod: missing === "cancel" || missing === "pause" ? missing : "create_invoice",
        description: str(sd, "description") ?? null,
      },
      request,
    );
    session.subscription = sub.id;
    const invId = typeof sub.latest_invoice === "string" ? sub.latest_invoice : null;
    const inv = invId ? core.state.invoices.get(invId) : undefined;
    session.invoice = inv?.id ?? null;
    if (inv) {
      session.amount_subtotal = inv.subtotal;
      session.amount_total = inv.total;
      const tax = (inv.total_taxes ?? []).reduce((a, t) => a + t.amount, 0);
      const discount = (inv.total_discount_amounts ?? []).reduce((a, d) => a + d.amount, 0);
      session.total_details = { amount_discount: discount, amount_shipping: 0, amount_tax: tax };
    }
  } else if (session.mode === "payment") {
    const decision = session.automatic_tax.enabled ? taxRateFor(core.taxRates, customer.address) : null;
    const tax = decision ? taxOn(session.amount_subtotal ?? 0, decision.rateBps) : 0;
    session.amount_total = (session.amount_subtotal ?? 0) + tax;
    session.total_details = { amount_discount: 0, amount_shipping: 0, amount_tax: tax };
  }
  if (session.automatic_tax.enabled) session.automatic_tax.status = "complete";
  session.status = "complete";
  session.payment_status = session.amount_total === 0 ? "no_payment_required" : "paid";
  core.emit({ type: "checkout.session.completed", data: { object: session } }, now, request);
  return session;
}

export function completeCheckoutRoute(ctx: Ctx): Stripe.Checkout.Session {
  const p = validate(ctx.raw, completeFields);
  return completeCheckoutSession(ctx.core, ctx.path.id ?? "", p, ctx.request);
}
