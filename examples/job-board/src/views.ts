/**
 * Server-rendered pages (hono/html: every interpolated string is escaped). No script anywhere and
 * no inline style: the only stylesheet is /static/app.css, so the Content-Security-Policy can
 * stay `default-src 'self'` without 'unsafe-inline'.
 */
import type { Decision, EntitlementClaims } from "@federal-job-advisor/entitlements";
import { toProblem } from "@federal-job-advisor/entitlements/problem";
import { html } from "hono/html";
import type { BillingCycle, ChangePreview, CatalogTier, InvoiceView, RefundView, RetentionOffer, SubscriptionView } from "./billing-client.ts";
import { CANCELLATION_REASONS, isBillingCycle } from "./billing-client.ts";
import type { JobPosting } from "./jobs.ts";

export type Html = ReturnType<typeof html>;

export interface DemoUser {
  id: string;
  name: string;
}

/** What a signed-in page needs to render its forms: the user and their form token. */
export interface Viewer {
  user: DemoUser | null;
  csrf: string;
}

// ---------------------------------------------------------------------------------------------
// Formatting

/** Integer cents as dollars, e.g. 4900 → "$49.00", -1234 → "-$12.34". */
export function money(cents: number, currency = "usd"): string {
  return new Intl.NumberFormat("en-US", { style: "currency", currency: currency.toUpperCase() }).format(cents / 100);
}

const PERIOD: Record<BillingCycle, string> = { monthly: "month", annual: "year", two_year: "2 years", three_year: "3 years" };

/** "$49/month", "$882/2 years": a price without cents when it has none. */
export function priceLabel(price: { amount: number; currency: string; billing_cycle: BillingCycle }): string {
  const text = money(price.amount, price.currency);
  return `${price.amount % 100 === 0 ? text.replace(/\.00$/, "") : text}/${PERIOD[price.billing_cycle]}`;
}

/** An RFC 3339 instant of the worker as a date, e.g. "March 3, 2027" (UTC). */
export function day(instant: string | null | undefined): string {
  if (instant === null || instant === undefined) return "—";
  return new Date(instant).toLocaleDateString("en-US", { year: "numeric", month: "long", day: "numeric", timeZone: "UTC" });
}

export function tierName(key: string | null | undefined, tiers: readonly CatalogTier[] = []): string {
  if (!key) return "—";
  return tiers.find((t) => t.key === key)?.name ?? key.charAt(0).toUpperCase() + key.slice(1);
}

const STATUS_LABELS: Record<string, string> = {
  trialing: "Free trial",
  active: "Active",
  past_due: "Payment past due",
  unpaid: "Unpaid",
  paused: "Paused",
  canceled: "Canceled",
  incomplete: "Incomplete",
  incomplete_expired: "Expired",
  suspended: "Suspended",
  trial_expired: "Trial ended",
  none: "No subscription",
};
const statusLabel = (s: string) => STATUS_LABELS[s] ?? s;

const REASON_LABELS: Record<(typeof CANCELLATION_REASONS)[number], string> = {
  too_expensive: "It is too expensive",
  missing_features: "Some features are missing",
  switched_service: "I switched to another service",
  unused: "I don't use it enough",
  customer_service: "Customer service was not good enough",
  too_complex: "It is too complicated",
  low_quality: "Quality was lower than expected",
  other: "Another reason",
};

// ---------------------------------------------------------------------------------------------
// Layout

const csrfField = (v: Viewer) => html`<input type="hidden" name="_csrf" value="${v.csrf}">`;

export function layout(v: Viewer, title: string, body: Html, opts: { banner?: Html | undefined } = {}): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Federal Job Advisor (demo)</title>
<link rel="stylesheet" href="/static/app.css">
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
</head>
<body>
<header class="top">
  <a class="brand" href="/">Federal Job Advisor</a>
  <nav>
    ${
      v.user
        ? html`<a href="/jobs/local">Local search</a>
    <a href="/jobs/nationwide">Nationwide</a>
    <a href="/saved">Saved searches</a>
    <a href="/billing">Billing</a>
    <form method="post" action="/signout" class="inline">${csrfField(v)}<button type="submit" class="link">Sign out ${v.user.name}</button></form>`
        : html`<a href="/signin">Sign in</a>`
    }
  </nav>
</header>
<p class="demo-note">Demo app: no real accounts and no passwords. Payments go to the offline Stripe emulator.</p>
${opts.banner ?? ""}
<main>
<h1>${title}</h1>
${body}
</main>
</body>
</html>`;
}

export function notice(kind: "info" | "warning" | "error", body: Html | string): Html {
  return html`<div class="notice ${kind}" role="${kind === "info" ? "status" : "alert"}">${body}</div>`;
}

// ---------------------------------------------------------------------------------------------
// Pages

export function homePage(v: Viewer, plan: { claims: EntitlementClaims | null; tiers: readonly CatalogTier[] } | null): Html {
  if (!v.user) {
    return layout(
      v,
      "Find your next federal job",
      html`<p>Search federal job postings near home with the <strong>Local</strong> plan, or anywhere in the country with <strong>Mobile</strong>.</p>
<p><a class="button" href="/signin">Sign in as a demo user</a></p>`,
    );
  }
  const claims = plan?.claims ?? null;
  return layout(
    v,
    `Welcome, ${v.user.name}`,
    html`<p>${claims ? html`Your plan: <strong>${claims.tier ? tierName(claims.tier, plan?.tiers) : "none"}</strong> (${statusLabel(claims.status)}).` : "Your plan could not be read right now."}</p>
<ul class="cards">
  <li><a href="/jobs/local">Search near home</a><span>Local plan and up</span></li>
  <li><a href="/jobs/nationwide">Search nationwide</a><span>Mobile plan</span></li>
  <li><a href="/saved">Saved searches</a><span>Local plan and up</span></li>
  <li><a href="/billing">Billing</a><span>Plan, invoices, trial and cancellation</span></li>
</ul>`,
  );
}

export function signInPage(v: Viewer, next: string, error?: string): Html {
  return layout(
    v,
    "Sign in (demo)",
    html`${error ? notice("error", error) : ""}
<p>This is a demo: there are no passwords. Type any name; your user id will be <code>demo_</code> followed by it, and anyone who types the same name gets the same demo account.</p>
<form method="post" action="/signin" class="stack">
  ${v.user ? csrfField(v) : ""}
  <input type="hidden" name="next" value="${next}">
  <label>Your name <input name="name" required maxlength="40" autocomplete="off"></label>
  <button type="submit">Sign in</button>
</form>`,
  );
}

export interface JobsView {
  scope: "local" | "nationwide";
  q: string;
  jobs: JobPosting[];
  /** local: the radius searched, and the plan's limit (null = none). */
  radius?: number;
  limit?: number | null;
  asked?: number;
}

export function jobsPage(v: Viewer, view: JobsView, banner?: Html): Html {
  const local = view.scope === "local";
  const limited = local && view.limit !== null && view.limit !== undefined && view.asked !== undefined && view.asked > view.limit;
  return layout(
    v,
    local ? "Jobs near home" : "Jobs nationwide",
    html`<form method="get" action="/jobs/${view.scope}" class="search">
  <label>Keywords <input name="q" value="${view.q}" maxlength="100"></label>
  ${local ? html`<label>Within (miles) <input name="radius" type="number" min="1" max="5000" value="${view.asked ?? view.radius ?? ""}"></label>` : ""}
  <button type="submit">Search</button>
</form>
${
  local
    ? html`<p class="muted">${view.limit === null ? "Your plan has no radius limit." : `Your plan searches up to ${view.limit} miles from home.`} Showing postings within ${view.radius} miles.</p>`
    : html`<p class="muted">Every posting in the country.</p>`
}
${limited ? notice("info", html`Limited to ${view.limit} miles by your plan. <a href="/jobs/nationwide">Nationwide search</a> comes with Mobile.`) : ""}
<form method="post" action="/saved" class="inline">
  ${csrfField(v)}
  <input type="hidden" name="scope" value="${view.scope}">
  <input type="hidden" name="q" value="${view.q}">
  ${local ? html`<input type="hidden" name="radius" value="${view.radius}">` : ""}
  <button type="submit" class="secondary">Save this search</button>
</form>
<p>${view.jobs.length} ${view.jobs.length === 1 ? "posting" : "postings"}</p>
<table class="jobs">
<thead><tr><th>Position</th><th>Agency</th><th>Location</th><th class="num">Miles</th><th class="num">Salary</th></tr></thead>
<tbody>
${view.jobs.map(
  (j) =>
    html`<tr data-job="${j.id}"><td>${j.title} <span class="muted">${j.grade}</span></td><td>${j.agency}</td><td>${j.city}, ${j.state}</td><td class="num">${j.miles}</td><td class="num">${money(j.salary[0] * 100).replace(/\.00$/, "")}–${money(j.salary[1] * 100).replace(/\.00$/, "")}</td></tr>`,
)}
</tbody>
</table>`,
    { banner },
  );
}

/** The banner of an allowed page: the past-due warning, or the trial's end. */
export function decisionBanner(decision: Decision | undefined): Html | undefined {
  if (!decision) return undefined;
  if (decision.reason === "payment_past_due") {
    return notice("warning", html`${decision.message ?? "Your last payment failed."} <a href="/billing">Update your payment method</a>`);
  }
  if (decision.reason === "trialing" && decision.message) return notice("info", decision.message);
  return undefined;
}

/**
 * The SDK's answer to a denied request, as a page: its problem title and message (toProblem),
 * and the way out the decision offers. Links point at this app's own pages (`/billing/upgrade`,
 * `/billing`), which the token's absolute URLs name too.
 */
export function deniedPage(v: Viewer, decision: Decision, feature: string, retryPath: string): Html {
  const problem = toProblem(decision, feature).body;
  const up = decision.upgrade;
  const upgradeLabel = !up
    ? ""
    : decision.reason === "no_subscription"
      ? `Start trial of ${tierName(up.tier)}`
      : decision.reason === "not_in_tier"
        ? `Upgrade to ${tierName(up.tier)}`
        : `Subscribe to ${tierName(up.tier)}`;
  const billingLabel = decision.reason === "suspended" ? "Update payment method" : decision.reason === "paused" ? "Resume subscription" : "Manage billing";
  return layout(
    v,
    problem.title,
    html`<div class="prompt" data-reason="${decision.reason}">
<p class="lead">${problem.detail}</p>
${up ? html`<p><a class="button" href="/billing/upgrade?tier=${encodeURIComponent(up.tier)}">${upgradeLabel}</a> <span class="muted">${priceLabel(up.price)}</span></p>` : ""}
${decision.billing_url && decision.reason !== "trial_expired" ? html`<p><a class="button" href="/billing">${billingLabel}</a></p>` : ""}
${decision.reason === "trial_expired" ? html`<p><a href="/billing">Billing</a></p>` : ""}
${decision.reason === "unavailable" ? html`<p><a class="button" href="${retryPath}">Try again</a></p>` : ""}
</div>`,
  );
}

export interface SavedSearch {
  id: string;
  scope: "local" | "nationwide";
  q: string;
  radius: number | null;
  created: number;
}

export function savedSearchHref(s: SavedSearch): string {
  const params = new URLSearchParams();
  if (s.q) params.set("q", s.q);
  if (s.scope === "local" && s.radius !== null) params.set("radius", String(s.radius));
  const qs = params.toString();
  return `/jobs/${s.scope}${qs ? `?${qs}` : ""}`;
}

export function savedPage(v: Viewer, searches: readonly SavedSearch[], banner?: Html, flash?: string): Html {
  return layout(
    v,
    "Saved searches",
    html`${flash ? notice("info", flash) : ""}
${
  searches.length === 0
    ? html`<p>No saved searches yet. Run a search and choose “Save this search”.</p>`
    : html`<ul class="saved">
${searches.map(
  (s) => html`<li><a href="${savedSearchHref(s)}">${s.scope === "local" ? `Near home${s.radius !== null ? ` (${s.radius} mi)` : ""}` : "Nationwide"}: ${s.q || "all postings"}</a>
  <form method="post" action="/saved/${s.id}/delete" class="inline">${csrfField(v)}<button type="submit" class="link">Delete</button></form></li>`,
)}
</ul>`
}`,
    { banner },
  );
}

export interface BillingPageData {
  subscription: SubscriptionView | null;
  invoices: InvoiceView[];
  refunds: RefundView[];
  tiers: readonly CatalogTier[];
  /** The entitlement status from the user's token (null when it could not be read). */
  status: string | null;
  flash?: string | undefined;
}

function subscriptionDetails(s: SubscriptionView, tiers: readonly CatalogTier[]): Html {
  const rows: [string, Html | string][] = [
    ["Plan", `${tierName(s.tier, tiers)}${s.billing_cycle ? ` (${s.billing_cycle})` : ""}`],
    // Suspended is the access, past_due only Stripe's word for it: the customer sees the access.
    ["Status", statusLabel(s.suspended ? "suspended" : s.status) + (s.paused ? " (payments paused)" : "")],
  ];
  if (s.unpaid_invoice) rows.push(["Amount due", money(s.unpaid_invoice.amount_due, s.unpaid_invoice.currency)]);
  if (s.trial_end && s.status === "trialing") rows.push(["Trial ends", day(s.trial_end)]);
  rows.push([s.cancel_at_period_end || s.cancel_at ? "Ends on" : "Current period ends", day(s.cancel_at ?? s.current_period_end)]);
  if (s.pending_change) {
    rows.push([
      "Scheduled change",
      `${tierName(s.pending_change.tier, tiers)}${s.pending_change.billing_cycle ? ` (${s.pending_change.billing_cycle})` : ""} from ${day(s.pending_change.effective_at)}`,
    ]);
  }
  if (s.discount) {
    const off = s.discount.percent_off !== null ? `${s.discount.percent_off}% off` : s.discount.amount_off !== null ? `${money(s.discount.amount_off)} off` : "Discount";
    rows.push(["Discount", `${off}${s.discount.ends_at ? ` until ${day(s.discount.ends_at)}` : ""}`]);
  }
  rows.push([
    "Next invoice",
    s.next_invoice
      ? `${money(s.next_invoice.amount_due, s.next_invoice.currency)}${s.next_invoice.tax ? ` (incl. ${money(s.next_invoice.tax, s.next_invoice.currency)} tax)` : ""} on ${day(s.next_invoice.date)}`
      : "None",
  ]);
  return html`<dl class="details">${rows.map(([k, val]) => html`<dt>${k}</dt><dd>${val}</dd>`)}</dl>`;
}

function cancelForm(v: Viewer): Html {
  return html`<form method="post" action="/billing/cancel" class="stack danger-zone">
  ${csrfField(v)}
  <label>Why are you leaving?
    <select name="reason" required>
      ${CANCELLATION_REASONS.map((r) => html`<option value="${r}">${REASON_LABELS[r]}</option>`)}
    </select>
  </label>
  <button type="submit" class="danger">Cancel subscription</button>
</form>`;
}

function invoicesTable(invoices: readonly InvoiceView[]): Html {
  if (invoices.length === 0) return html`<p class="muted">No invoices yet.</p>`;
  return html`<table class="invoices">
<thead><tr><th>Invoice</th><th>Period</th><th>Status</th><th class="num">Total</th><th class="num">Paid</th><th class="num">Credited</th><th></th></tr></thead>
<tbody>
${invoices.map(
  (i) =>
    html`<tr><td>${i.number ?? i.id}</td><td>${day(i.period_start)} – ${day(i.period_end)}</td><td>${i.status}</td><td class="num">${money(i.total, i.currency)}</td><td class="num">${money(i.amount_paid, i.currency)}</td><td class="num">${i.amount_credited ? money(i.amount_credited, i.currency) : ""}</td><td>${i.hosted_invoice_url && /^https?:\/\//.test(i.hosted_invoice_url) ? html`<a href="${i.hosted_invoice_url}">View</a>` : ""}</td></tr>`,
)}
</tbody>
</table>`;
}

const REFUND_REASON_LABELS: Record<NonNullable<RefundView["reason"]>, string> = {
  requested_by_customer: "At your request",
  duplicate: "Duplicate charge",
  fraudulent: "Fraudulent charge",
  service_issue: "Service issue",
};

/** Refunds beside the invoices they give money back on, by the invoice's number when it is listed. */
function refundsTable(refunds: readonly RefundView[], invoices: readonly InvoiceView[]): Html {
  if (refunds.length === 0) return html`<p class="muted">No refunds.</p>`;
  const invoiceLabel = (id: string | null) => (id === null ? "" : (invoices.find((i) => i.id === id)?.number ?? id));
  return html`<table class="refunds">
<thead><tr><th>Date</th><th>Invoice</th><th>Reason</th><th>Status</th><th class="num">Amount</th></tr></thead>
<tbody>
${refunds.map(
  (r) =>
    html`<tr><td>${day(r.created_at)}</td><td>${invoiceLabel(r.invoice_id)}</td><td>${r.reason ? REFUND_REASON_LABELS[r.reason] : ""}</td><td>${r.status}</td><td class="num">${money(r.amount, r.currency)}</td></tr>`,
)}
</tbody>
</table>`;
}

/** What is due and where to pay it: Stripe's hosted invoice page (only an http(s) link is shown). */
function unpaidNotice(suspended: boolean, inv: NonNullable<SubscriptionView["unpaid_invoice"]>): Html {
  const amount = money(inv.amount_due, inv.currency);
  const pay = inv.hosted_invoice_url && /^https?:\/\//.test(inv.hosted_invoice_url) ? html` <a class="button" href="${inv.hosted_invoice_url}">Pay now</a>` : "";
  return notice(
    suspended ? "error" : "warning",
    suspended ? html`Your access is suspended: ${amount} is due. Pay it and your access comes back at once.${pay}` : html`Your payment of ${amount} is past due. Pay it to keep your access.${pay}`,
  );
}

export function billingPage(v: Viewer, d: BillingPageData): Html {
  const s = d.subscription;
  const live = s !== null && !["canceled", "incomplete_expired"].includes(s.status);
  const firstTime = d.status === "none";
  const tierActions = d.tiers
    .filter((t) => !live || t.key !== s!.tier)
    .map((t) => {
      const month = t.prices.find((p) => p.billing_cycle === "monthly");
      const label = !live
        ? firstTime && t.trial_days > 0
          ? `Start ${t.trial_days}-day free trial of ${t.name}`
          : `Subscribe to ${t.name}`
        : `${(d.tiers.find((x) => x.key === s!.tier)?.rank ?? 0) < t.rank ? "Upgrade" : "Switch"} to ${t.name}`;
      return html`<li><a class="button" href="/billing/upgrade?tier=${encodeURIComponent(t.key)}">${label}</a> ${month ? html`<span class="muted">${priceLabel({ ...month.unit, billing_cycle: "monthly" })}</span>` : ""}</li>`;
    });
  return layout(
    v,
    "Billing",
    html`${d.flash ? notice("info", d.flash) : ""}
${s === null ? html`<p>You have no subscription yet.</p>` : subscriptionDetails(s, d.tiers)}
${s?.unpaid_invoice ? unpaidNotice(s.suspended, s.unpaid_invoice) : ""}
${
  s && s.cancel_at_period_end
    ? html`${notice("warning", `Your subscription ends on ${day(s.cancel_at ?? s.current_period_end)}. You keep access until then.`)}
<form method="post" action="/billing/reactivate" class="inline">${csrfField(v)}<button type="submit">Reactivate</button></form>`
    : ""
}
${s && s.paused ? html`<form method="post" action="/billing/resume" class="inline">${csrfField(v)}<button type="submit">Resume payments</button></form>` : ""}
${tierActions.length ? html`<ul class="actions">${tierActions}</ul>` : ""}
${s ? html`<form method="post" action="/billing/portal" class="inline">${csrfField(v)}<button type="submit" class="secondary">Manage billing</button></form>` : ""}
${live && !s!.cancel_at_period_end ? cancelForm(v) : ""}
<h2>Invoices</h2>
${invoicesTable(d.invoices)}
<h2>Refunds</h2>
${refundsTable(d.refunds, d.invoices)}`,
  );
}

export function offerPage(v: Viewer, offer: RetentionOffer, reason: string): Html {
  return layout(
    v,
    "Before you go",
    html`<div class="prompt">
<p class="lead">${offer.description}</p>
${offer.amount !== undefined ? html`<p>With this offer you pay ${money(offer.amount, offer.currency)} per billing period.</p>` : ""}
<form method="post" action="/billing/offer/accept" class="inline">${csrfField(v)}<input type="hidden" name="offer_id" value="${offer.id}"><button type="submit">Accept offer</button></form>
<form method="post" action="/billing/cancel/confirm" class="inline">${csrfField(v)}<input type="hidden" name="reason" value="${reason}"><button type="submit" class="danger">Cancel anyway</button></form>
<p><a href="/billing">Back to billing</a></p>
</div>`,
  );
}

/**
 * What an upgrade link leads to: the plan and its price, and the one button that starts
 * Checkout (a POST with the form token, so following a link alone never starts one).
 */
export function upgradePage(v: Viewer, p: { tier: string; billingCycle: string | undefined; tiers: readonly CatalogTier[] }): Html {
  const tier = p.tiers.find((t) => t.key === p.tier);
  const cycle: BillingCycle = isBillingCycle(p.billingCycle) ? p.billingCycle : "monthly";
  const price = tier?.prices.find((x) => x.billing_cycle === cycle);
  // The tier's other ways to pay (annual, prepaid two and three years), each a link to this page with its cycle.
  const others = (tier?.prices ?? []).filter((x) => x.billing_cycle !== cycle);
  return layout(
    v,
    `${tierName(p.tier, p.tiers)} plan`,
    html`${price ? html`<p class="lead">${tierName(p.tier, p.tiers)}: ${priceLabel({ ...price.unit, billing_cycle: cycle })}${tier && tier.trial_days > 0 ? html`, after a ${tier.trial_days}-day free trial if this is your first subscription` : ""}.</p>` : ""}
${others.length ? html`<p class="muted">Or pay ${others.map((x, i) => html`${i ? " · " : ""}<a href="/billing/upgrade?tier=${encodeURIComponent(p.tier)}&amp;billing_cycle=${x.billing_cycle}">${priceLabel({ ...x.unit, billing_cycle: x.billing_cycle })}</a>`)}</p>` : ""}
<p>You pay on Stripe's checkout page; if you already have a subscription, you see the change and its price first.</p>
<form method="post" action="/billing/upgrade" class="inline">
  ${csrfField(v)}
  <input type="hidden" name="tier" value="${p.tier}">
  ${p.billingCycle ? html`<input type="hidden" name="billing_cycle" value="${p.billingCycle}">` : ""}
  <button type="submit">Continue to checkout</button>
</form>
<p><a href="/billing">Back to billing</a></p>`,
  );
}

export function changePage(v: Viewer, p: { tier: string; billingCycle: string | undefined; preview: ChangePreview; tiers: readonly CatalogTier[]; flash?: string | undefined }): Html {
  const pr = p.preview;
  return layout(
    v,
    `Change to ${tierName(p.tier, p.tiers)}`,
    html`${p.flash ? notice("warning", p.flash) : ""}
<p>You already have a subscription, so this changes your plan instead of starting a new one.</p>
<p>${pr.effective === "now" ? "The change takes effect now." : "The change takes effect at the end of your current period."}</p>
${pr.lines.length ? html`<table class="lines"><tbody>${pr.lines.map((l) => html`<tr><td>${l.description}</td><td class="num">${money(l.amount, pr.currency)}</td></tr>`)}</tbody></table>` : ""}
<p class="lead">Amount due now: <strong data-amount-due-now="${pr.amount_due_now}">${money(pr.amount_due_now, pr.currency)}</strong></p>
<p class="muted">Next invoice after the change: ${money(pr.next_invoice_amount, pr.currency)}</p>
<form method="post" action="/billing/change" class="inline">
  ${csrfField(v)}
  <input type="hidden" name="tier" value="${p.tier}">
  ${p.billingCycle ? html`<input type="hidden" name="billing_cycle" value="${p.billingCycle}">` : ""}
  <input type="hidden" name="expected_amount_due_now" value="${pr.amount_due_now}">
  <button type="submit">Confirm change</button>
</form>
<p><a href="/billing">Back to billing</a></p>`,
  );
}

export function successPage(v: Viewer, claims: EntitlementClaims | null, tiers: readonly CatalogTier[]): Html {
  const ready = claims !== null && claims.tier !== null && ["active", "trialing"].includes(claims.status);
  return layout(
    v,
    "Thank you",
    html`<p class="lead">Your checkout is complete. Access follows within seconds, as soon as the payment has been confirmed to us.</p>
${ready ? notice("info", `Your plan: ${tierName(claims!.tier, tiers)} (${statusLabel(claims!.status)}).`) : html`<p class="muted">Still being confirmed: if a page still says you need to subscribe, wait a few seconds and reload it.</p>`}
<p><a class="button" href="/jobs/local">Search near home</a> <a class="button" href="/jobs/nationwide">Search nationwide</a></p>
<p><a href="/billing">Billing</a></p>`,
  );
}

export function errorPage(v: Viewer, title: string, detail: string, back = "/"): Html {
  return layout(v, title, html`${notice("error", detail)}<p><a href="${back}">Go back</a></p>`);
}
