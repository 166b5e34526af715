import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DAY, start, T0, type Harness } from "./helpers.ts";

// Invoicing terms a business (a federal agency buying seats) needs: quantities and their
// proration, net terms (send_invoice, days_until_due, invoice.overdue), custom fields (a PO
// number), tax IDs, payments made outside Stripe, fixed terms (cancel_at) and multi-year prices.

let h: Harness;
let seat: Stripe.Price;
let product: Stripe.Product;
beforeAll(async () => {
  h = await start();
  product = await h.stripe.products.create({ name: "Agency seat" });
  seat = await h.stripe.prices.create({ product: product.id, currency: "usd", unit_amount: 39000, recurring: { interval: "year" } });
});
afterAll(async () => {
  await h.stop();
});

const YEAR_2026 = 365 * DAY;
const PO = { name: "PO number", value: "PO-2026-0042" };

async function agency(extra: Partial<Stripe.CustomerCreateParams> = {}): Promise<{ clock: Stripe.TestHelpers.TestClock; customer: Stripe.Customer }> {
  const clock = await h.stripe.testHelpers.testClocks.create({ frozen_time: T0 });
  const customer = await h.stripe.customers.create({
    test_clock: clock.id,
    name: "Office of Personnel Transition",
    email: "ap@agency.example.gov",
    address: { line1: "1900 E St NW", city: "Washington", state: "DC", postal_code: "20415", country: "US" },
    ...extra,
  });
  return { clock, customer };
}

/** Every event of the given types about this object (data.object.id), oldest first. */
async function eventsFor(types: string[], objectId: string): Promise<Stripe.Event[]> {
  const out: Stripe.Event[] = [];
  for await (const e of h.stripe.events.list({ limit: 100, types })) if ("id" in e.data.object && e.data.object.id === objectId) out.push(e);
  return out.reverse();
}

function idOf(ref: string | { id: string } | null | undefined): string {
  if (ref === null || ref === undefined) return "";
  return typeof ref === "string" ? ref : ref.id;
}

async function invoicesOf(customerId: string): Promise<Stripe.Invoice[]> {
  return (await h.stripe.invoices.list({ customer: customerId, limit: 100 })).data.reverse();
}

async function apiError(p: Promise<unknown>): Promise<Stripe.errors.StripeError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  if (!(e instanceof Stripe.errors.StripeError)) throw new Error(`expected a Stripe error, got ${String(e)}`);
  return e;
}

describe("net terms: collection_method send_invoice", () => {
  it("a send_invoice subscription for 25 seats is active at once with an open invoice of 25 × $390 due in 30 days, and nothing is charged", async () => {
    const { customer } = await agency();
    const sub = await h.stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: seat.id, quantity: 25 }],
      collection_method: "send_invoice",
      days_until_due: 30,
    });
    expect([sub.status, sub.collection_method, sub.days_until_due, sub.items.data[0]?.quantity]).toEqual(["active", "send_invoice", 30, 25]);
    const inv = await h.stripe.invoices.retrieve(idOf(sub.latest_invoice));
    expect([inv.status, inv.collection_method, inv.amount_due, inv.due_date, inv.next_payment_attempt, inv.attempted]).toEqual(["open", "send_invoice", 975_000, T0 + 30 * DAY, null, false]);
    expect(inv.lines.data.map((l) => [l.quantity, l.amount, l.pricing?.unit_amount_decimal?.toString()])).toEqual([[25, 975_000, "39000"]]);
    expect((await h.stripe.paymentIntents.list({ customer: customer.id })).data).toEqual([]);
    expect((await h.stripe.charges.list({ customer: customer.id })).data).toEqual([]);
  });

  it("invoices.sendInvoice emits invoice.sent; a charge_automatically invoice cannot be sent by hand", async () => {
    const { customer } = await agency();
    const sub = await h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: seat.id, quantity: 2 }], collection_method: "send_invoice", days_until_due: 30 });
    const sent = await h.stripe.invoices.sendInvoice(idOf(sub.latest_invoice));
    expect(sent.status).toBe("open");
    expect((await eventsFor(["invoice.sent"], sent.id)).map((e) => e.created)).toEqual([T0]);

    const manual = await h.stripe.invoices.create({ customer: customer.id, collection_method: "charge_automatically" });
    const err = await apiError(h.stripe.invoices.sendInvoice(manual.id));
    expect([err.statusCode, err.message]).toEqual([400, "You can only manually send an invoice if its collection method is 'send_invoice'."]);
  });

  it("when the due date passes unpaid, invoice.overdue is emitted once, at the due date, and the subscription goes past_due; paid out of band it is active again", async () => {
    const { clock, customer } = await agency();
    const sub = await h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: seat.id, quantity: 25 }], collection_method: "send_invoice", days_until_due: 30 });
    const invId = idOf(sub.latest_invoice);
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: T0 + 29 * DAY });
    expect(await eventsFor(["invoice.overdue"], invId)).toEqual([]);
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: T0 + 31 * DAY });
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: T0 + 90 * DAY });
    const overdue = await eventsFor(["invoice.overdue"], invId);
    expect(overdue.map((e) => e.created)).toEqual([T0 + 30 * DAY]);
    expect((await h.stripe.subscriptions.retrieve(sub.id)).status).toBe("past_due");
    expect((await h.stripe.invoices.retrieve(invId)).status).toBe("open");

    const paid = await h.stripe.invoices.pay(invId, { paid_out_of_band: true });
    expect([paid.status, paid.amount_remaining, paid.payments?.data.length]).toEqual(["paid", 0, 0]);
    expect((await eventsFor(["invoice.paid", "invoice.payment_succeeded"], invId)).map((e) => e.type)).toEqual(["invoice.paid"]);
    expect((await h.stripe.subscriptions.retrieve(sub.id)).status).toBe("active");
    expect((await h.stripe.charges.list({ customer: customer.id })).data).toEqual([]);
    // Paid: nothing more happens to it, however far the clock goes.
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: T0 + 120 * DAY });
    expect(await eventsFor(["invoice.overdue"], invId)).toHaveLength(1);
  });

  it("amount_paid_off_stripe is included on request: what was paid out of band, 0 for an invoice paid by card, absent unless asked for", async () => {
    const { customer } = await agency({ payment_method: "pm_card_visa" });
    const offStripe = (await h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: seat.id, quantity: 2 }], collection_method: "send_invoice", days_until_due: 30 })).latest_invoice;
    const byCard = (await h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: seat.id, quantity: 1 }], collection_method: "send_invoice", days_until_due: 30 })).latest_invoice;
    const due = (await h.stripe.invoices.retrieve(idOf(offStripe))).amount_due;
    const paid = await h.stripe.invoices.pay(idOf(offStripe), { paid_out_of_band: true, expand: ["amount_paid_off_stripe"] });
    expect([paid.status, paid.amount_paid_off_stripe]).toEqual(["paid", due]);
    expect((await h.stripe.invoices.retrieve(idOf(offStripe))).amount_paid_off_stripe).toBeUndefined();
    expect((await h.stripe.invoices.retrieve(idOf(offStripe), { expand: ["amount_paid_off_stripe"] })).amount_paid_off_stripe).toBe(due);
    const pm = (await h.stripe.paymentMethods.list({ customer: customer.id })).data[0]!;
    await h.stripe.invoices.pay(idOf(byCard), { payment_method: pm.id });
    expect(await h.stripe.invoices.retrieve(idOf(byCard), { expand: ["amount_paid_off_stripe"] })).toMatchObject({ status: "paid", amount_paid_off_stripe: 0 });
  });

  it("tax[validate_location]=immediately refuses a customer whose postal code does not match its state, and makes none; a placeable address is made", async () => {
    const before = (await h.stripe.customers.list({ limit: 100 })).data.length;
    const address = { line1: "1315 10th St", city: "Sacramento", state: "CA", postal_code: "10001", country: "US" };
    const err = await apiError(h.stripe.customers.create({ name: "Mismatched ZIP", address, tax: { validate_location: "immediately" } }));
    expect([err.statusCode, err.type, err.code]).toEqual([400, "StripeInvalidRequestError", "customer_tax_location_invalid"]);
    expect((await h.stripe.customers.list({ limit: 100 })).data).toHaveLength(before);
    const placed = await h.stripe.customers.create({ name: "Sacramento", address: { ...address, postal_code: "95814" }, tax: { validate_location: "immediately" } });
    expect(placed.address?.postal_code).toBe("95814");
    // Without the option Stripe takes the address as it is.
    expect((await h.stripe.customers.create({ name: "Unchecked", address })).address?.postal_code).toBe("10001");
  });

  it("a renewal of a send_invoice subscription is finalized with a new due date and never charged, even with a card on file", async () => {
    const { clock, customer } = await agency({ payment_method: "pm_card_visa", invoice_settings: { default_payment_method: "pm_card_visa" } });
    const sub = await h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: seat.id, quantity: 3 }], collection_method: "send_invoice", days_until_due: 45 });
    await h.stripe.invoices.pay(idOf(sub.latest_invoice), { paid_out_of_band: true });
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: T0 + YEAR_2026 + 2 * 3600 });
    const renewal = (await invoicesOf(customer.id))[1];
    expect([renewal?.billing_reason, renewal?.status, renewal?.amount_due, renewal?.due_date]).toEqual(["subscription_cycle", "open", 117_000, T0 + YEAR_2026 + 45 * DAY]);
    expect((await h.stripe.charges.list({ customer: customer.id })).data).toEqual([]);
  });

  it("a customer's one-off invoice on net terms gets its due date from days_until_due or due_date", async () => {
    const { customer } = await agency();
    await h.stripe.invoiceItems.create({ customer: customer.id, amount: 50_000, currency: "usd", description: "Onboarding" });
    const inv = await h.stripe.invoices.create({ customer: customer.id, collection_method: "send_invoice", days_until_due: 30, pending_invoice_items_behavior: "include" });
    expect([inv.collection_method, inv.due_date, inv.amount_due]).toEqual(["send_invoice", T0 + 30 * DAY, 50_000]);
    const fin = await h.stripe.invoices.finalizeInvoice(inv.id);
    expect([fin.status, fin.next_payment_attempt]).toEqual(["open", null]);
    const fixed = await h.stripe.invoices.create({ customer: customer.id, collection_method: "send_invoice", due_date: T0 + 10 * DAY });
    expect(fixed.due_date).toBe(T0 + 10 * DAY);
    const none = await apiError(h.stripe.invoices.create({ customer: customer.id, collection_method: "send_invoice" }));
    expect([none.statusCode, none.param]).toEqual([400, "days_until_due"]);
  });

  it("send_invoice without days_until_due, or days_until_due on an automatically charged subscription, is refused and creates nothing", async () => {
    const { customer } = await agency();
    const missing = await apiError(h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: seat.id }], collection_method: "send_invoice" }));
    expect([missing.statusCode, missing.code, missing.param]).toEqual([400, "parameter_missing", "days_until_due"]);
    const stray = await apiError(h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: seat.id }], days_until_due: 30 }));
    expect([stray.statusCode, stray.param]).toEqual([400, "days_until_due"]);
    expect((await h.stripe.subscriptions.list({ customer: customer.id, status: "all" })).data).toEqual([]);
  });
});

describe("quantities and their proration", () => {
  it("five more seats on day 100 with always_invoice: the invoice equals invoices.createPreview for the same change to the cent", async () => {
    const { clock, customer } = await agency();
    const sub = await h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: seat.id, quantity: 25 }], collection_method: "send_invoice", days_until_due: 30 });
    await h.stripe.invoices.pay(idOf(sub.latest_invoice), { paid_out_of_band: true });
    const day100 = T0 + 100 * DAY;
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: day100 });
    const itemId = sub.items.data[0]?.id ?? "";
    const preview = await h.stripe.invoices.createPreview({
      customer: customer.id,
      subscription: sub.id,
      subscription_details: { items: [{ id: itemId, quantity: 30 }], proration_behavior: "always_invoice", proration_date: day100 },
    });
    const updated = await h.stripe.subscriptions.update(sub.id, { items: [{ id: itemId, quantity: 30 }], proration_behavior: "always_invoice", proration_date: day100 });
    expect(updated.items.data[0]?.quantity).toBe(30);
    const inv = await h.stripe.invoices.retrieve(idOf(updated.latest_invoice));
    // Unused 265/365 of 25 seats credited, the same share of 30 seats debited: 5 × 39000 × 265 / 365 = 141,575.34… → 141,575.
    const credit = -Math.round((25 * 39000 * 265) / 365);
    const debit = Math.round((30 * 39000 * 265) / 365);
    expect(inv.lines.data.map((l) => l.amount)).toEqual([credit, debit]);
    expect(preview.lines.data.map((l) => l.amount)).toEqual([credit, debit]);
    expect([inv.total, inv.amount_due]).toEqual([preview.total, preview.amount_due]);
    expect(inv.amount_due).toBe(credit + debit);
    expect([inv.billing_reason, inv.status, inv.collection_method, inv.due_date]).toEqual(["subscription_update", "open", "send_invoice", day100 + 30 * DAY]);
    expect((await h.stripe.charges.list({ customer: customer.id })).data).toEqual([]);
  });

  it("with create_prorations the seats added mid-term are billed on the next invoice, which the preview showed", async () => {
    const { clock, customer } = await agency();
    const sub = await h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: seat.id, quantity: 10 }], collection_method: "send_invoice", days_until_due: 30 });
    await h.stripe.invoices.pay(idOf(sub.latest_invoice), { paid_out_of_band: true });
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: T0 + 200 * DAY });
    const itemId = sub.items.data[0]?.id ?? "";
    const preview = await h.stripe.invoices.createPreview({
      customer: customer.id,
      subscription: sub.id,
      subscription_details: { items: [{ id: itemId, quantity: 12 }], proration_date: T0 + 200 * DAY },
    });
    await h.stripe.subscriptions.update(sub.id, { items: [{ id: itemId, quantity: 12 }], proration_date: T0 + 200 * DAY });
    expect(await invoicesOf(customer.id)).toHaveLength(1);
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: T0 + YEAR_2026 + 2 * 3600 });
    const next = (await invoicesOf(customer.id))[1];
    expect(next?.total).toBe(preview.total);
    expect(next?.lines.data.map((l) => l.amount).sort()).toEqual(preview.lines.data.map((l) => l.amount).sort());
    // Each proration line is rounded on its own: −round(10 seats × 165/365) + round(12 seats × 165/365).
    expect(next?.total).toBe(12 * 39000 - Math.round((10 * 39000 * 165) / 365) + Math.round((12 * 39000 * 165) / 365));
  });
});

describe("invoice custom fields", () => {
  it("invoices show the subscription's custom fields, else the customer's, else their own", async () => {
    const { customer } = await agency({ invoice_settings: { custom_fields: [{ name: "Agency", value: "OPM" }] } });
    const plain = await h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: seat.id }], collection_method: "send_invoice", days_until_due: 30 });
    expect((await h.stripe.invoices.retrieve(idOf(plain.latest_invoice))).custom_fields).toEqual([{ name: "Agency", value: "OPM" }]);
    const withPo = await h.stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: seat.id }],
      collection_method: "send_invoice",
      days_until_due: 30,
      invoice_settings: { custom_fields: [PO, { name: "Agency", value: "OPM" }] },
    });
    expect(withPo.invoice_settings.custom_fields).toEqual([PO, { name: "Agency", value: "OPM" }]);
    expect((await h.stripe.invoices.retrieve(idOf(withPo.latest_invoice))).custom_fields).toEqual([PO, { name: "Agency", value: "OPM" }]);
    const manual = await h.stripe.invoices.create({ customer: customer.id, collection_method: "send_invoice", days_until_due: 30, custom_fields: [PO] });
    expect(manual.custom_fields).toEqual([PO]);
    const changed = await h.stripe.invoices.update(manual.id, { custom_fields: [{ name: "PO number", value: "PO-2026-0043" }] });
    expect(changed.custom_fields).toEqual([{ name: "PO number", value: "PO-2026-0043" }]);
    const updatedCustomer = await h.stripe.customers.update(customer.id, { invoice_settings: { custom_fields: "" } });
    expect(updatedCustomer.invoice_settings.custom_fields).toBeNull();
  });

  it("refuses a fifth field, a name over 40 and a value over 140 characters, naming the field, and creates nothing", async () => {
    const { customer } = await agency();
    const five = Array.from({ length: 5 }, (_, i) => ({ name: `F${i}`, value: "v" }));
    const tooMany = await apiError(h.stripe.invoices.create({ customer: customer.id, custom_fields: five }));
    expect([tooMany.statusCode, tooMany.type, tooMany.param]).toEqual([400, "StripeInvalidRequestError", "custom_fields"]);
    const longName = await apiError(h.stripe.invoices.create({ customer: customer.id, custom_fields: [{ name: "N".repeat(41), value: "v" }] }));
    expect([longName.statusCode, longName.param, longName.message]).toEqual([400, "custom_fields[0][name]", "Invalid string: NNNNNNNNNN...NNNNNNNNNN; must be at most 40 characters"]);
    const longValue = await apiError(
      h.stripe.subscriptions.create({
        customer: customer.id,
        items: [{ price: seat.id }],
        collection_method: "send_invoice",
        days_until_due: 30,
        invoice_settings: { custom_fields: [PO, { name: "Note", value: "x".repeat(141) }] },
      }),
    );
    expect([longValue.statusCode, longValue.param]).toEqual([400, "invoice_settings[custom_fields][1][value]"]);
    const onCustomer = await apiError(h.stripe.customers.update(customer.id, { invoice_settings: { custom_fields: [{ name: "PO", value: "y".repeat(141) }] } }));
    expect(onCustomer.param).toBe("invoice_settings[custom_fields][0][value]");
    expect(await invoicesOf(customer.id)).toEqual([]);
    expect((await h.stripe.subscriptions.list({ customer: customer.id, status: "all" })).data).toEqual([]);
    // Exactly at the limits is fine.
    const edge = await h.stripe.invoices.create({ customer: customer.id, custom_fields: [{ name: "N".repeat(40), value: "v".repeat(140) }] });
    expect(edge.custom_fields?.[0]?.value).toHaveLength(140);
  });
});

describe("customer tax IDs", () => {
  it("tax_id_data on create and customers.createTaxId add tax IDs that invoices show as customer_tax_ids", async () => {
    const { customer } = await agency({ tax_id_data: [{ type: "us_ein", value: "12-3456789" }] });
    const added = await h.stripe.customers.createTaxId(customer.id, { type: "eu_vat", value: "DE123456789" });
    expect([added.object, added.type, added.value, added.country, idOf(added.customer)]).toEqual(["tax_id", "eu_vat", "DE123456789", "DE", customer.id]);
    const list = await h.stripe.customers.listTaxIds(customer.id);
    expect(list.data.map((t) => [t.type, t.value, t.country])).toEqual([
      ["eu_vat", "DE123456789", "DE"],
      ["us_ein", "12-3456789", "US"],
    ]);
    const inv = await h.stripe.invoices.create({ customer: customer.id, collection_method: "send_invoice", days_until_due: 30 });
    expect(inv.customer_tax_ids).toEqual([
      { type: "us_ein", value: "12-3456789" },
      { type: "eu_vat", value: "DE123456789" },
    ]);
    const retrieved = await h.stripe.customers.retrieveTaxId(customer.id, added.id);
    expect(retrieved.id).toBe(added.id);
    expect(await h.stripe.customers.deleteTaxId(customer.id, added.id)).toMatchObject({ id: added.id, deleted: true });
    expect((await h.stripe.customers.listTaxIds(customer.id)).data.map((t) => t.type)).toEqual(["us_ein"]);
    expect((await eventsFor(["customer.tax_id.created", "customer.tax_id.deleted"], added.id)).map((e) => e.type)).toEqual(["customer.tax_id.created", "customer.tax_id.deleted"]);
  });

  it("a malformed EIN or an unknown type is refused with the param named, and no customer is created", async () => {
    const before = (await h.stripe.customers.list({ limit: 100 })).data.length;
    const bad = await apiError(h.stripe.customers.create({ name: "X", tax_id_data: [{ type: "us_ein", value: "12345" }] }));
    expect([bad.statusCode, bad.code, bad.param]).toEqual([400, "tax_id_invalid", "tax_id_data[0][value]"]);
    const unknown = await apiError(h.stripe.customers.create({ name: "X", tax_id_data: [{ type: "xx_nope", value: "1" }] }));
    expect([unknown.statusCode, unknown.param]).toEqual([400, "tax_id_data[0][type]"]);
    expect((await h.stripe.customers.list({ limit: 100 })).data.length).toBe(before);
  });
});

describe("fixed terms: cancel_at", () => {
  it("a 12-month term on a yearly price ends at cancel_at with customer.subscription.deleted and no renewal invoice", async () => {
    const { clock, customer } = await agency();
    const end = T0 + YEAR_2026;
    const sub = await h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: seat.id, quantity: 25 }], collection_method: "send_invoice", days_until_due: 30, cancel_at: end });
    expect(sub.cancel_at).toBe(end);
    await h.stripe.invoices.pay(idOf(sub.latest_invoice), { paid_out_of_band: true });
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: end + 40 * DAY });
    const ended = await h.stripe.subscriptions.retrieve(sub.id);
    expect([ended.status, ended.ended_at]).toEqual(["canceled", end]);
    expect((await eventsFor(["customer.subscription.deleted"], sub.id)).map((e) => e.created)).toEqual([end]);
    expect((await invoicesOf(customer.id)).map((i) => i.billing_reason)).toEqual(["subscription_create"]);
  });

  it("a 24-month term renews once and ends; a cancel_at inside a period ends the subscription at that instant", async () => {
    const { clock, customer } = await agency();
    const end = Date.UTC(2028, 0, 1) / 1000;
    const sub = await h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: seat.id, quantity: 2 }], collection_method: "send_invoice", days_until_due: 30, cancel_at: end });
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: end + DAY });
    expect((await invoicesOf(customer.id)).map((i) => [i.billing_reason, i.total])).toEqual([
      ["subscription_create", 78_000],
      ["subscription_cycle", 78_000],
    ]);
    expect((await h.stripe.subscriptions.retrieve(sub.id)).ended_at).toBe(end);

    const other = await agency();
    const monthly = await h.stripe.prices.create({ product: product.id, currency: "usd", unit_amount: 3000, recurring: { interval: "month" } });
    const s2 = await h.stripe.subscriptions.create({ customer: other.customer.id, items: [{ price: monthly.id }], collection_method: "send_invoice", days_until_due: 30 });
    const midPeriod = T0 + 10 * DAY + 3600;
    await h.stripe.subscriptions.update(s2.id, { cancel_at: midPeriod });
    await h.stripe.testHelpers.testClocks.advance(other.clock.id, { frozen_time: T0 + 40 * DAY });
    const gone = await h.stripe.subscriptions.retrieve(s2.id);
    expect([gone.status, gone.ended_at]).toEqual(["canceled", midPeriod]);
    expect(await invoicesOf(other.customer.id)).toHaveLength(1);
  });

  it("an 18-month term bills its last period only up to cancel_at, as the preview of that renewal said", async () => {
    const { clock, customer } = await agency();
    const renewal = Date.UTC(2027, 0, 1) / 1000;
    const end = Date.UTC(2027, 6, 1) / 1000;
    const sub = await h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: seat.id, quantity: 4 }], collection_method: "send_invoice", days_until_due: 30, cancel_at: end });
    const preview = await h.stripe.invoices.createPreview({ customer: customer.id, subscription: sub.id });
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: end + DAY });
    const invoices = await invoicesOf(customer.id);
    const share = Math.round((4 * 39000 * (end - renewal)) / (Date.UTC(2028, 0, 1) / 1000 - renewal));
    expect(invoices.map((i) => [i.billing_reason, i.total])).toEqual([
      ["subscription_create", 156_000],
      ["subscription_cycle", share],
    ]);
    expect(invoices[1]?.lines.data[0]?.period).toEqual({ start: renewal, end });
    expect(preview.total).toBe(share);
    expect((await h.stripe.subscriptions.retrieve(sub.id)).ended_at).toBe(end);
  });

  it("cancel_at in the past, or with cancel_at_period_end, is refused", async () => {
    const { customer } = await agency();
    const past = await apiError(h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: seat.id }], cancel_at: T0 - 1 }));
    expect([past.statusCode, past.param]).toEqual([400, "cancel_at"]);
    const both = await apiError(h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: seat.id }], cancel_at: T0 + DAY, cancel_at_period_end: true }));
    expect([both.statusCode, both.param]).toEqual([400, "cancel_at"]);
  });
});

describe("multi-year prices: recurring.interval_count", () => {
  it.each([
    [2, [Date.UTC(2026, 0, 1), Date.UTC(2028, 0, 1), Date.UTC(2030, 0, 1)]],
    [3, [Date.UTC(2026, 0, 1), Date.UTC(2029, 0, 1)]],
  ])("a price every %i years bills once per period", async (count, billedAt) => {
    const { clock, customer } = await agency({ payment_method: "pm_card_visa", invoice_settings: { default_payment_method: "pm_card_visa" } });
    const price = await h.stripe.prices.create({ product: product.id, currency: "usd", unit_amount: 9900 * count, recurring: { interval: "year", interval_count: count } });
    const sub = await h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }] });
    expect(sub.items.data[0]?.current_period_end).toBe(Date.UTC(2026 + count, 0, 1) / 1000);
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: Date.UTC(2030, 6, 1) / 1000 });
    const invoices = await invoicesOf(customer.id);
    expect(invoices.map((i) => [i.created, i.status, i.amount_paid])).toEqual(billedAt.map((ms) => [ms / 1000, "paid", 9900 * count]));
    expect((await h.stripe.charges.list({ customer: customer.id, limit: 100 })).data).toHaveLength(billedAt.length);
  });
});

describe("hosted invoice page", () => {
  it("shows the PO number, the due date and the customer's tax ID", async () => {
    const { customer } = await agency({ tax_id_data: [{ type: "us_ein", value: "12-3456789" }] });
    const sub = await h.stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: seat.id, quantity: 25 }],
      collection_method: "send_invoice",
      days_until_due: 30,
      invoice_settings: { custom_fields: [PO] },
    });
    const inv = await h.stripe.invoices.retrieve(idOf(sub.latest_invoice));
    const html = await (await fetch(inv.hosted_invoice_url ?? "")).text();
    expect(html).toContain("PO number");
    expect(html).toContain("PO-2026-0042");
    expect(html).toContain("Due date");
    expect(html).toContain("January 31, 2026");
    expect(html).toContain("12-3456789");
    expect(html).toContain("$9750.00");
  });
});
