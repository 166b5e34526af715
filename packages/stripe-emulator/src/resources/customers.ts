import type Stripe from "stripe";
import { diff } from "../core.ts";
import type { Ctx } from "../context.ts";
import { invalidRequest, resourceMissing } from "../errors.ts";
import { has, listFields, mergeMetadata, obj, objs, s, str, strs, validate } from "../form.ts";
import { newId, randomToken } from "../ids.ts";
import { matchesRange, newestFirst, paginate } from "../list.ts";
import { clone } from "../store.ts";
import { cancelSubscriptionNow } from "../billing/lifecycle.ts";
import { addTaxId, checkTaxId, customFieldsFrom, customFieldsSpec } from "../billing/terms.ts";
import { addressFields, addressFrom, requireCustomer } from "./common.ts";
import { attachPaymentMethod, resolvePaymentMethod } from "./payment-methods.ts";
import { taxLocationValid } from "../tax.ts";

const shippingFields = s.obj({ address: s.req(s.obj(addressFields)), name: s.req(s.str()), phone: s.str() }, { emptyable: true });

const writableFields = {
  address: s.obj(addressFields, { emptyable: true }),
  description: s.str({ emptyable: true }),
  email: s.str({ emptyable: true }),
  name: s.str({ emptyable: true }),
  phone: s.str({ emptyable: true }),
  metadata: s.meta(),
  invoice_settings: s.obj({ default_payment_method: s.str({ emptyable: true }), footer: s.str({ emptyable: true }), custom_fields: customFieldsSpec }),
  preferred_locales: s.arr(s.str()),
  shipping: shippingFields,
  tax_exempt: s.enum("none", "exempt", "reverse"),
  invoice_prefix: s.str(),
  tax: s.obj({ ip_address: s.str({ emptyable: true }), validate_location: s.str() }),
};

export function createCustomer(ctx: Ctx): Stripe.Customer {
  const p = validate(ctx.raw, {
    ...writableFields,
    payment_method: s.str(),
    test_clock: s.str(),
    balance: s.int(),
    tax_id_data: s.arr(s.obj({ type: s.req(s.str()), value: s.req(s.str()) })),
  });
  const clockId = str(p, "test_clock") ?? null;
  const customFields = customFieldsFrom(obj(p, "invoice_settings"), "custom_fields", "invoice_settings[custom_fields]");
  // Every tax ID is checked before anything is stored, so a bad one leaves no customer behind.
  const taxIds = (objs(p, "tax_id_data") ?? []).map((t, i) => ({ type: checkTaxId(str(t, "type") ?? "", str(t, "value") ?? "", `tax_id_data[${i}]`), value: str(t, "value") ?? "" }));
  if (clockId !== null && !ctx.core.state.testClocks.has(clockId)) throw resourceMissing("test_clock", clockId, "test_clock");
  const now = ctx.core.clockNow(clockId);
  const customer: Stripe.Customer = {
    id: newId("cus"),
    object: "customer",
    address: addressFrom(obj(p, "address")),
    balance: 0,
    created: now,
    currency: null,
    default_source: null,
    delinquent: false,
    description: str(p, "description") ?? null,
    discount: null,
    email: str(p, "email") ?? null,
    invoice_prefix: str(p, "invoice_prefix") ?? randomToken(8).toUpperCase(),
    invoice_settings: { custom_fields: customFields ?? null, default_payment_method: null, footer: str(obj(p, "invoice_settings"), "footer") ?? null, rendering_options: null },
    livemode: false,
    metadata: mergeMetadata(null, obj(p, "metadata"), false),
    name: str(p, "name") ?? null,
    next_invoice_sequence: 1,
    phone: str(p, "phone") ?? null,
    preferred_locales: strs(p, "preferred_locales") ?? [],
    shipping: shippingFrom(obj(p, "shipping")),
    tax_exempt: tax(str(p, "tax_exempt")),
    test_clock: clockId,
  };
  // Stripe Tax places the address now when asked to, and a customer it cannot place is not made.
  if (str(obj(p, "tax"), "validate_location") === "immediately" && !taxLocationValid(customer.address)) {
    throw invalidRequest("The customer's location isn't recognized. Check that the address is complete and its postal code matches its state.", undefined, "customer_tax_location_invalid");
  }
  // Resolve the payment method before storing anything, so a bad id leaves no customer behind.
  const pmRef = str(p, "payment_method");
  const defaultRef = str(obj(p, "invoice_settings"), "default_payment_method");
  if (defaultRef !== undefined && defaultRef !== pmRef && !ctx.core.state.paymentMethods.has(defaultRef)) {
    throw invalidRequest(`No such PaymentMethod: '${defaultRef}'`, "invoice_settings[default_payment_method]", "resource_missing");
  }
  const pm = pmRef !== undefined ? resolvePaymentMethod(ctx.core, pmRef, now, "payment_method") : undefined;
  ctx.core.state.customers.set(customer.id, customer);
  ctx.core.emit({ type: "customer.created", data: { object: customer } }, now, ctx.request);
  for (const t of taxIds) addTaxId(ctx.core, customer.id, t.type, t.value, now, ctx.request);
  if (pm) attachPaymentMethod(ctx.core, pm, customer.id, ctx.request);
  if (defaultRef !== undefined) {
    const before = clone(customer);
    customer.invoice_settings.default_payment_method = defaultRef === pmRef && pm ? pm.id : defaultRef;
    ctx.core.emit({ type: "customer.updated", data: { object: customer, previous_attributes: diff(before, customer) } }, now, ctx.request);
  }
  return customer;
}

function tax(v: string | undefined): Stripe.Customer.TaxExempt {
  return v === "exempt" || v === "reverse" ? v : "none";
}

function shippingFrom(p: ReturnType<typeof obj>): Stripe.Customer.Shipping | null {
  if (!p) return null;
  return { address: addressFrom(obj(p, "address")) ?? undefined, name: str(p, "name") ?? "", phone: str(p, "phone") ?? null };
}

export function retrieveCustomer(ctx: Ctx): Stripe.Customer | Stripe.DeletedCustomer {
  validate(ctx.raw, {});
  const id = ctx.path.id ?? "";
  if (ctx.core.state.deletedCustomers.has(id)) return { id, object: "customer", deleted: true };
  return requireCustomer(ctx.core, id, "id");
}

export function updateCustomer(ctx: Ctx): Stripe.Customer {
  const p = validate(ctx.raw, { ...writableFields, payment_method: s.str() });
  const customer = requireCustomer(ctx.core, ctx.path.id ?? "", "id");
  const now = ctx.core.nowForCustomer(customer.id);
  const inv = obj(p, "invoice_settings");
  const defaultRef = str(inv, "default_payment_method");
  if (defaultRef !== undefined) {
    const pm = ctx.core.state.paymentMethods.get(defaultRef);
    if (!pm) throw invalidRequest(`No such PaymentMethod: '${defaultRef}'`, "invoice_settings[default_payment_method]", "resource_missing");
    if (pm.customer !== customer.id) {
      throw invalidRequest(
        `The customer does not have a payment method with the ID ${defaultRef}. The payment method must be attached to the customer.`,
        "invoice_settings[default_payment_method]",
        "resource_missing",
      );
    }
  }
  const customFields = customFieldsFrom(inv, "custom_fields", "invoice_settings[custom_fields]");
  const before = clone(customer);
  if (customFields !== undefined) customer.invoice_settings.custom_fields = customFields;
  if (has(p, "address")) customer.address = addressFrom(obj(p, "address"));
  if (has(p, "description")) customer.description = str(p, "description") ?? null;
  if (has(p, "email")) customer.email = str(p, "email") ?? null;
  if (has(p, "name")) customer.name = str(p, "name") ?? null;
  if (has(p, "phone")) customer.phone = str(p, "phone") ?? null;
  if (has(p, "metadata")) customer.metadata = mergeMetadata(customer.metadata, obj(p, "metadata"), p.metadata === null);
  if (has(p, "preferred_locales")) customer.preferred_locales = strs(p, "preferred_locales") ?? [];
  if (has(p, "shipping")) customer.shipping = shippingFrom(obj(p, "shipping"));
  if (has(p, "tax_exempt")) customer.tax_exempt = tax(str(p, "tax_exempt"));
  if (inv && has(inv, "default_payment_method")) customer.invoice_settings.default_payment_method = defaultRef ?? null;
  if (inv && has(inv, "footer")) customer.invoice_settings.footer = str(inv, "footer") ?? null;
  const pmRef = str(p, "payment_method");
  if (pmRef !== undefined) attachPaymentMethod(ctx.core, resolvePaymentMethod(ctx.core, pmRef, now, "payment_method"), customer.id, ctx.request);
  const changes = diff(before, customer);
  if (Object.keys(changes).length > 0) {
    ctx.core.emit({ type: "customer.updated", data: { object: customer, previous_attributes: changes } }, now, ctx.request);
  }
  return customer;
}

export function deleteCustomer(ctx: Ctx): Stripe.DeletedCustomer {
  validate(ctx.raw, {});
  const customer = requireCustomer(ctx.core, ctx.path.id ?? "", "id");
  const now = ctx.core.nowForCustomer(customer.id);
  // Stripe cancels a deleted customer's subscriptions immediately.
  for (const sub of ctx.core.state.subscriptions.values()) {
    if (sub.customer === customer.id && sub.status !== "canceled" && sub.status !== "incomplete_expired") {
      cancelSubscriptionNow(ctx.core, sub, now, ctx.request, { reason: "cancellation_requested" });
    }
  }
  ctx.core.state.customers.delete(customer.id);
  ctx.core.state.deletedCustomers.add(customer.id);
  ctx.core.emit({ type: "customer.deleted", data: { object: customer } }, now, ctx.request);
  return { id: customer.id, object: "customer", deleted: true };
}

export function listCustomers(ctx: Ctx): Stripe.ApiList<Stripe.Customer> {
  const p = validate(ctx.raw, { ...listFields, email: s.str(), test_clock: s.str() });
  const email = str(p, "email");
  const clock = str(p, "test_clock");
  const all = newestFirst(ctx.core.state.customers).filter(
    (c) => (email === undefined || c.email === email) && (clock === undefined || c.test_clock === clock) && matchesRange(c.created, p, "created"),
  );
  return paginate(all, p, "/v1/customers");
}

/** `customers.search` with the small query subset the flows use: `email:'x'`, `metadata['k']:'v'`. */
export function searchCustomers(ctx: Ctx): Stripe.ApiSearchResult<Stripe.Customer> {
  const p = validate(ctx.raw, { query: s.req(s.str()), limit: s.int({ min: 1, max: 100 }), page: s.str() });
  const query = str(p, "query") ?? "";
  const clauses = query.split(/\s+AND\s+/i).map((c) => c.trim());
  const preds = clauses.map((clause) => {
    const m = /^(email|name|phone|metadata\[['"]([^'"]+)['"]\])\s*:\s*['"]([^'"]*)['"]$/.exec(clause);
    if (!m) throw invalidRequest(`Invalid search query: ${clause}`, "query");
    const value = m[3] ?? "";
    const metaKey = m[2];
    return (c: Stripe.Customer): boolean => (metaKey !== undefined ? c.metadata[metaKey] === value : m[1] === "email" ? c.email === value : m[1] === "name" ? c.name === value : c.phone === value);
  });
  const data = newestFirst(ctx.core.state.customers).filter((c) => preds.every((f) => f(c)));
  const limit = typeof p.limit === "number" ? p.limit : 10;
  return { object: "search_result", data: data.slice(0, limit), has_more: data.length > limit, next_page: null, url: "/v1/customers/search" };
}

/** `POST /v1/customers/:id/tax_ids`: adds a tax ID (e.g. `us_ein` 12-3456789) shown on the customer's invoices. */
export function createTaxIdRoute(ctx: Ctx): Stripe.TaxId {
  const p = validate(ctx.raw, { type: s.req(s.str()), value: s.req(s.str()) });
  const customer = requireCustomer(ctx.core, ctx.path.id ?? "", "id");
  const value = str(p, "value") ?? "";
  const type = checkTaxId(str(p, "type") ?? "", value, null);
  return addTaxId(ctx.core, customer.id, type, value, ctx.core.nowForCustomer(customer.id), ctx.request);
}

function customerTaxIds(ctx: Ctx, customerId: string): Stripe.TaxId[] {
  return newestFirst(ctx.core.state.taxIds).filter((t) => t.customer === customerId);
}

export function listTaxIds(ctx: Ctx): Stripe.ApiList<Stripe.TaxId> {
  const p = validate(ctx.raw, listFields);
  const customer = requireCustomer(ctx.core, ctx.path.id ?? "", "id");
  return paginate(customerTaxIds(ctx, customer.id), p, `/v1/customers/${customer.id}/tax_ids`);
}

function requireTaxId(ctx: Ctx): Stripe.TaxId {
  const customer = requireCustomer(ctx.core, ctx.path.customer ?? "", "customer");
  const id = ctx.path.id ?? "";
  const taxId = ctx.core.state.taxIds.get(id);
  if (!taxId || taxId.customer !== customer.id) throw resourceMissing("tax_id", id, "id");
  return taxId;
}

export function retrieveTaxId(ctx: Ctx): Stripe.TaxId {
  validate(ctx.raw, {});
  return requireTaxId(ctx);
}

export function deleteTaxId(ctx: Ctx): Stripe.DeletedTaxId {
  validate(ctx.raw, {});
  const taxId = requireTaxId(ctx);
  ctx.core.state.taxIds.delete(taxId.id);
  const customerId = typeof taxId.customer === "string" ? taxId.customer : null;
  ctx.core.emit({ type: "customer.tax_id.deleted", data: { object: taxId } }, ctx.core.nowForCustomer(customerId), ctx.request);
  return { id: taxId.id, object: "tax_id", deleted: true };
}
