import type Stripe from "stripe";
import type { Core } from "./core.ts";
import { testCardNames } from "./cards.ts";
import { money } from "./billing/lifecycle.ts";
import { scheduleOf } from "./billing/schedules.ts";
import { sessionTrialDays } from "./resources/checkout.ts";
import { portalAllowsCancel } from "./resources/portal.ts";
import { taxOn, taxRateFor } from "./tax.ts";

/** The few HTML pages a person sees in a demo: hosted checkout, hosted invoice, portal. */
function esc(v: string | null | undefined): string {
  return (v ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${esc(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:34rem;margin:2rem auto;padding:0 1rem;color:#1a1f36}h1{font-size:1.3rem}label{display:block;margin:.7rem 0 .2rem}input,select{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}button{margin-top:1rem;padding:.6rem 1.2rem;font-size:1rem;background:#635bff;color:#fff;border:0;border-radius:4px;cursor:pointer}.muted{color:#697386;font-size:.9rem}table{width:100%;border-collapse:collapse}td{padding:.3rem 0}.banner{background:#fff8e1;padding:.5rem;border-radius:4px;font-size:.85rem}</style></head>
<body><p class="banner">Stripe emulator — test mode, no real payment.</p>${body}</body></html>`;
}

export function checkoutPage(core: Core, session: Stripe.Checkout.Session): string {
  const items = core.state.checkoutLineItems.get(session.id) ?? [];
  const rows = items
    .map(
      (li) =>
        `<tr><td>${esc(li.description)} × ${li.quantity ?? 1}</td><td style="text-align:right">${money(li.amount_total, li.currency)}${li.price?.recurring ? ` / ${li.price.recurring.interval}` : ""}</td></tr>`,
    )
    .join("");
  if (session.status !== "open") return page("Checkout", `<h1>This checkout session is ${esc(session.status)}.</h1>`);
  const currency = session.currency ?? items[0]?.currency ?? "usd";
  const subtotal = items.reduce((acc, li) => acc + li.amount_total, 0);
  const interval = items.find((li) => li.price?.recurring)?.price?.recurring?.interval;
  const per = interval ? ` / ${interval}` : "";
  const trialDays = sessionTrialDays(session);
  const customer = typeof session.customer === "string" ? core.state.customers.get(session.customer) : undefined;
  // The address the form starts with (US, CA) unless the customer already has one.
  const address = customer?.address ?? { city: null, country: "US", line1: null, line2: null, postal_code: "94107", state: "CA" };
  const decision = session.automatic_tax.enabled ? taxRateFor(core.taxRates, address) : null;
  const tax = decision ? taxOn(subtotal, decision.rateBps) : 0;
  const pct = (bps: number) =>
    `${Math.floor(bps / 100)}${
      bps % 100
        ? `.${String(bps % 100)
            .padStart(2, "0")
            .replace(/0$/, "")}`
        : ""
    } %`;
  const summary = [
    trialDays > 0 && interval ? `<tr class="trial"><td colspan="2"><strong>${trialDays} days free, then ${money(subtotal, currency)}${per}</strong></td></tr>` : "",
    session.automatic_tax.enabled
      ? decision
        ? `<tr class="tax"><td>Tax (${pct(decision.rateBps)}, ${esc(decision.jurisdiction)})</td><td style="text-align:right">${money(tax, currency)}${per}</td></tr>`
        : `<tr class="tax"><td>Tax</td><td style="text-align:right">calculated from your address</td></tr>`
      : "",
    `<tr class="due"><td>Due today</td><td style="text-align:right">${money(trialDays > 0 ? 0 : subtotal + tax, currency)}</td></tr>`,
  ].join("");
  const cards = testCardNames()
    .map((n) => `<option value="pm_card_${n}">${n}</option>`)
    .join("");
  const email = session.customer_details?.email ?? session.customer_email ?? "";
  return page(
    "Checkout",
    `<h1>Subscribe</h1><table>${rows}${summary}</table>
<form method="post" action="/_emulator/checkout/${esc(session.id)}">
<label for="email">Email</label><input id="email" name="email" type="email" value="${esc(email)}" required>
<label for="name">Name on card</label><input id="name" name="name">
<label for="country">Country</label><input id="country" name="address[country]" value="US">
<label for="state">State</label><input id="state" name="address[state]" value="CA">
<label for="postal">ZIP</label><input id="postal" name="address[postal_code]" value="94107">
<label for="card">Test card</label><select id="card" name="payment_method">${cards}</select>
${session.allow_promotion_codes ? `<label for="promo">Promotion code</label><input id="promo" name="promotion_code">` : ""}
${session.custom_text.submit ? `<p class="custom-text">${esc(session.custom_text.submit.message)}</p>` : ""}
<button type="submit">Pay</button></form>
${session.cancel_url ? `<p><a href="${esc(session.cancel_url)}">Cancel</a></p>` : ""}`,
  );
}

/** A Unix time as the calendar date an invoice prints (UTC), e.g. "February 1, 2026". */
function invoiceDate(t: number): string {
  return new Date(t * 1000).toLocaleDateString("en-US", { year: "numeric", month: "long", day: "numeric", timeZone: "UTC" });
}

export function invoicePage(invoice: Stripe.Invoice): string {
  const rows = invoice.lines.data.map((l) => `<tr><td>${esc(l.description)}</td><td style="text-align:right">${money(l.amount, l.currency)}</td></tr>`).join("");
  // What a business customer's accounts payable needs to match the invoice: its PO number and
  // other custom fields, its tax IDs, and when payment is due.
  const terms = [
    invoice.due_date !== null ? `<tr class="due-date"><td>Due date</td><td style="text-align:right">${esc(invoiceDate(invoice.due_date))}</td></tr>` : "",
    ...(invoice.custom_fields ?? []).map((f) => `<tr class="custom-field"><td>${esc(f.name)}</td><td style="text-align:right">${esc(f.value)}</td></tr>`),
    ...(invoice.customer_tax_ids ?? []).map((t) => `<tr class="tax-id"><td>${esc(t.type.toUpperCase().replace("_", " "))}</td><td style="text-align:right">${esc(t.value)}</td></tr>`),
  ].join("");
  return page(
    `Invoice ${invoice.number ?? invoice.id}`,
    `<h1>Invoice ${esc(invoice.number ?? invoice.id)}</h1><p class="muted">Status: ${esc(invoice.status)}</p>${invoice.customer_name ? `<p>Billed to ${esc(invoice.customer_name)}</p>` : ""}${terms ? `<table class="terms">${terms}</table>` : ""}<table>${rows}
<tr><td><strong>Total</strong></td><td style="text-align:right"><strong>${money(invoice.total, invoice.currency)}</strong></td></tr>
<tr><td>Amount due</td><td style="text-align:right">${money(invoice.amount_remaining, invoice.currency)}</td></tr></table>`,
  );
}

export function portalPage(core: Core, session: Stripe.BillingPortal.Session): string {
  const subs = [...core.state.subscriptions.values()].filter((s) => s.customer === session.customer);
  const rows = subs
    .map((s) => {
      const item = s.items.data[0];
      const price = item ? `${money(item.price.unit_amount ?? 0, item.price.currency)} / ${item.price.recurring?.interval ?? ""}` : "";
      const action =
        s.status === "canceled"
          ? ""
          : !portalAllowsCancel(core, session)
            ? ""
            : scheduleOf(core, s)
              ? `<span class="muted">A scheduled change is pending (subscription schedule); it cannot be changed here.</span>`
              : `<form method="post" action="/_emulator/portal/${esc(session.id)}/subscriptions/${esc(s.id)}"><input type="hidden" name="cancel_at_period_end" value="${s.cancel_at_period_end ? "false" : "true"}"><button type="submit">${s.cancel_at_period_end ? "Renew" : "Cancel at period end"}</button></form>`;
      return `<tr><td>${esc(s.id)}<br><span class="muted">${esc(s.status)} · ${esc(price)}${s.cancel_at_period_end ? " · cancels at period end" : ""}</span></td><td>${action}</td></tr>`;
    })
    .join("");
  return page("Billing portal", `<h1>Your subscriptions</h1><table>${rows}</table>${session.return_url ? `<p><a href="${esc(session.return_url)}">Return</a></p>` : ""}`);
}
