/**
 * The dunning and lifecycle emails, each rendered once (at enqueue) into a subject, a text body
 * and an HTML body. The wording follows the facts the caller gives, never guesses:
 * - `hasPaymentMethod: false` says "add a card", never "your card was declined";
 * - past-due notices (the dunning stages, hard decline, suspension) never mention a trial;
 * - amounts are integer minor units rendered exactly (2900 → $29.00), never through floats;
 * - every input is HTML-escaped in the HTML body, and header-unsafe characters leave the subject.
 * Every email carries the link to update the payment method (the app's billing page).
 */
import type { EmailCategory } from "../db/schema";
import { DomainError } from "../errors";

export interface Money {
  /** Integer minor units (cents). */
  amount: number;
  currency: string;
}

interface Common {
  /** The customer's name for the greeting; omitted → "Hello,". */
  name?: string | null | undefined;
  /** The product line, e.g. "Federal Job Advisor Mobile". */
  plan: string;
}

interface PastDue extends Common {
  amountDue: Money;
  /** Whether the customer has a payment method on file (no card → "add a card"). */
  hasPaymentMethod: boolean;
  /** When access will be suspended (ms), if payment does not arrive. */
  suspendAt: number;
}

export type EmailInput =
  | ({ template: "trial_ending"; trialEndsAt: number; hasPaymentMethod: boolean; amountAfterTrial: Money } & Common)
  | ({ template: "dunning_soft" | "dunning_urgent" | "dunning_final" } & PastDue)
  | ({ template: "hard_decline" } & PastDue)
  | ({
      template: "suspended";
      amountDue: Money;
      hasPaymentMethod: boolean /** When the subscription is canceled unless paid (ms); null or absent: it is kept. */;
      cancelAt?: number | null | undefined;
    } & Common)
  | ({ template: "payment_recovered"; amountPaid: Money } & Common)
  | ({ template: "subscription_canceled"; amountUnpaid: Money } & Common)
  | ({ template: "retention_offer_confirmed"; offer: string; effectiveAt: number } & Common)
  /** To the admin (WEBHOOK_ADMIN_EMAIL): an outbound webhook endpoint failed for three days and was disabled. */
  | ({ template: "webhook_endpoint_disabled"; endpointId: string; endpointUrl: string; failingSince: number } & Common)
  /** To an organization's billing_email: its term ends in `daysLeft` days and does not renew by itself. */
  | ({ template: "organization_renewal_reminder"; termEndsAt: number; daysLeft: number; seats: number } & Common)
  /** To an organization's billing_email: an invoice on net terms is `daysOverdue` days past its due date; seats stay on. */
  | ({
      template: "organization_invoice_overdue";
      invoiceNumber: string;
      amountDue: Money;
      dueDate: number;
      daysOverdue: number;
      invoiceUrl: string | null;
      poNumber: string | null;
    } & Common);

export type EmailTemplate = EmailInput["template"];
export const EMAIL_TEMPLATES = [
  "trial_ending",
  "dunning_soft",
  "dunning_urgent",
  "dunning_final",
  "hard_decline",
  "suspended",
  "payment_recovered",
  "subscription_canceled",
  "retention_offer_confirmed",
  "webhook_endpoint_disabled",
  "organization_renewal_reminder",
  "organization_invoice_overdue",
] as const satisfies readonly EmailTemplate[];

/**
 * What kind of email each template is, for suppressions (email/suppress.ts): `dunning` asks for
 * money or reports on the asking, `lifecycle` tells about the subscription itself, `marketing`
 * sells (no template does yet; the kind exists so a policy can name it), `admin` goes to the
 * operator, never to a customer.
 */
export const EMAIL_CATEGORY: Record<EmailTemplate, EmailCategory> = {
  trial_ending: "lifecycle",
  dunning_soft: "dunning",
  dunning_urgent: "dunning",
  dunning_final: "dunning",
  hard_decline: "dunning",
  suspended: "dunning",
  payment_recovered: "dunning",
  subscription_canceled: "dunning",
  retention_offer_confirmed: "lifecycle",
  webhook_endpoint_disabled: "admin",
  // An agency's billing contact: the overdue notice asks for money, the renewal reminder is about the term.
  organization_invoice_overdue: "dunning",
  organization_renewal_reminder: "lifecycle",
};

export interface RenderContext {
  /** Where the customer updates the payment method: `${APP_BASE_URL}/billing`. */
  billingUrl: string;
}

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

const ZERO_DECIMAL = new Set(["bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"]);

/** 2900 usd → "$29.00", 123456 usd → "$1,234.56", 500 eur → "5.00 EUR": integer arithmetic only. */
export function formatMoney(m: Money): string {
  if (!Number.isSafeInteger(m.amount))
    throw new DomainError("validation_failed", `An amount must be an integer number of minor units, got ${m.amount}.`, { errors: [{ field: "amount", message: "must be an integer (cents)" }] });
  const currency = m.currency.toLowerCase();
  const negative = m.amount < 0;
  const abs = Math.abs(m.amount);
  const decimals = ZERO_DECIMAL.has(currency) ? 0 : 2;
  const major = decimals ? Math.floor(abs / 100) : abs;
  const minor = decimals ? `.${String(abs % 100).padStart(2, "0")}` : "";
  const number = `${String(major).replace(/\B(?=(\d{3})+(?!\d))/g, ",")}${minor}`;
  const sign = negative ? "-" : "";
  return currency === "usd" ? `${sign}$${number}` : `${sign}${number} ${currency.toUpperCase()}`;
}

/** "March 5, 2026" (UTC). */
export function formatDate(ms: number): string {
  return new Date(ms).toLocaleDateString("en-US", { timeZone: "UTC", year: "numeric", month: "long", day: "numeric" });
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** Subjects go into a header: no line breaks or control characters. */
const oneLine = (s: string) => s.replace(/[\u0000-\u001f\u007f]+/g, " ").trim();

/** A paragraph is a list of parts: plain strings are inputs or prose (escaped in HTML). */
interface Body {
  subject: string;
  paragraphs: string[];
  action: string;
}

function compose(input: EmailInput, ctx: RenderContext, body: Body): RenderedEmail {
  const greeting = input.name?.trim() ? `Hello ${input.name.trim()},` : "Hello,";
  const sign = "The Federal Job Advisor team";
  const text = [greeting, ...body.paragraphs, `${body.action}: ${ctx.billingUrl}`, sign].join("\n\n") + "\n";
  const p = (s: string) => `<p style="margin:0 0 16px">${escapeHtml(s)}</p>`;
  const href = escapeHtml(ctx.billingUrl);
  const html =
    `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(oneLine(body.subject))}</title></head>` +
    `<body style="font-family:Arial,Helvetica,sans-serif;color:#1a1a1a;line-height:1.5">` +
    p(greeting) +
    body.paragraphs.map(p).join("") +
    `<p style="margin:0 0 16px"><a href="${href}" style="background:#1d4ed8;color:#fff;padding:10px 16px;border-radius:4px;text-decoration:none">${escapeHtml(body.action)}</a></p>` +
    `<p style="margin:0 0 16px;font-size:13px;color:#555">Or open ${href}</p>` +
    p(sign) +
    `</body></html>`;
  return { subject: oneLine(body.subject), text, html };
}

/** What to do about the payment method, from the facts: add one, or update/replace it. */
const fix = (hasPaymentMethod: boolean) => (hasPaymentMethod ? "Update your payment method" : "Add a card");

function pastDueLead(i: PastDue): string {
  const amount = formatMoney(i.amountDue);
  return i.hasPaymentMethod
    ? `We could not collect the payment of ${amount} for your ${i.plan} subscription: your card was declined.`
    : `There is no card on file for your ${i.plan} subscription, so the payment of ${amount} could not be collected.`;
}

export function renderEmail(input: EmailInput, ctx: RenderContext): RenderedEmail {
  switch (input.template) {
    case "trial_ending": {
      const when = formatDate(input.trialEndsAt);
      const price = formatMoney(input.amountAfterTrial);
      return compose(input, ctx, {
        subject: `Your ${input.plan} trial ends on ${when}`,
        paragraphs: input.hasPaymentMethod
          ? [`Your free trial of ${input.plan} ends on ${when}.`, `Your subscription then continues and the card on file will be charged ${price}. Nothing else to do.`]
          : [
              `Your free trial of ${input.plan} ends on ${when}.`,
              `There is no card on file yet: add a card before then to keep your access (${price} when the trial ends). Without one, access ends with the trial.`,
            ],
        action: input.hasPaymentMethod ? "Review your payment method" : "Add a card",
      });
    }
    case "dunning_soft":
      return compose(input, ctx, {
        subject: input.hasPaymentMethod ? `Your ${input.plan} payment did not go through` : `Add a card to pay for ${input.plan}`,
        paragraphs: [
          pastDueLead(input),
          input.hasPaymentMethod ? "This happens: an expired card or a bank's check. Please update your payment method; we will try again." : "Please add a card so the payment can go through.",
          `Your access continues for now.`,
        ],
        action: fix(input.hasPaymentMethod),
      });
    case "dunning_urgent":
      return compose(input, ctx, {
        subject: `Action needed: ${formatMoney(input.amountDue)} is past due for ${input.plan}`,
        paragraphs: [
          pastDueLead(input),
          `Your payment is now past due. ${input.hasPaymentMethod ? "Please update your payment method" : "Please add a card"} to keep your access after ${formatDate(input.suspendAt)}.`,
        ],
        action: fix(input.hasPaymentMethod),
      });
    case "dunning_final":
      return compose(input, ctx, {
        subject: `Final notice: your ${input.plan} access will be suspended on ${formatDate(input.suspendAt)}`,
        paragraphs: [pastDueLead(input), `This is the final notice: unless ${formatMoney(input.amountDue)} is paid, your access will be suspended on ${formatDate(input.suspendAt)}.`],
        action: fix(input.hasPaymentMethod),
      });
    case "hard_decline":
      return compose(input, ctx, {
        subject: input.hasPaymentMethod ? `Please use another card for ${input.plan}` : `Add a card to pay for ${input.plan}`,
        paragraphs: input.hasPaymentMethod
          ? [
              `Your bank declined the payment of ${formatMoney(input.amountDue)} for your ${input.plan} subscription, and retrying this card will not help.`,
              `Please use another card to keep your access after ${formatDate(input.suspendAt)}.`,
            ]
          : [pastDueLead(input), `Please add a card to keep your access after ${formatDate(input.suspendAt)}.`],
        action: input.hasPaymentMethod ? "Use another card" : "Add a card",
      });
    case "suspended":
      return compose(input, ctx, {
        subject: `Your ${input.plan} access is suspended`,
        paragraphs: [
          `Your access to ${input.plan} is suspended because ${formatMoney(input.amountDue)} is unpaid.`,
          input.hasPaymentMethod ? "Update your payment method and pay the amount due, and your access comes back at once." : "Add a card and pay the amount due, and your access comes back at once.",
          ...(input.cancelAt != null ? [`Unless it is paid by ${formatDate(input.cancelAt)}, your subscription will be canceled on that day.`] : []),
        ],
        action: fix(input.hasPaymentMethod),
      });
    case "payment_recovered":
      return compose(input, ctx, {
        subject: `Payment received: your ${input.plan} subscription is up to date`,
        paragraphs: [`Thank you: your payment of ${formatMoney(input.amountPaid)} went through, and your ${input.plan} access continues.`, "You can review your payment method at any time."],
        action: "Manage your payment method",
      });
    case "subscription_canceled":
      // Stripe keeps an uncollectible invoice payable, but nothing here asks for it: the way back is a new subscription.
      return compose(input, ctx, {
        subject: `Your ${input.plan} subscription is canceled`,
        paragraphs: [
          `Your ${input.plan} subscription is canceled because ${formatMoney(input.amountUnpaid)} stayed unpaid after your access was suspended.`,
          "We have stopped trying to collect it and will not bill you again.",
          "You can subscribe again at any time from your billing page.",
        ],
        action: "Subscribe again",
      });
    case "retention_offer_confirmed":
      return compose(input, ctx, {
        subject: `Your ${input.plan} offer is confirmed`,
        paragraphs: [`You accepted this offer: ${input.offer}.`, `It takes effect on ${formatDate(input.effectiveAt)}. Your subscription continues as before until then.`],
        action: "Manage your payment method",
      });
    case "webhook_endpoint_disabled":
      return compose(input, ctx, {
        subject: `Webhook endpoint ${input.endpointId} is disabled`,
        paragraphs: [
          `Every delivery to the ${input.plan} webhook endpoint ${input.endpointId} (${input.endpointUrl}) has failed since ${formatDate(input.failingSince)}, so it is disabled: nothing more is sent to it.`,
          "Fix the receiver, then enable the endpoint again (PATCH /v1/webhook-endpoints/{id} with enabled: true) and replay what it missed (POST /v1/webhook-endpoints/{id}/replay).",
        ],
        action: "Open the billing app",
      });
    case "organization_renewal_reminder": {
      const when = formatDate(input.termEndsAt);
      const days = input.daysLeft === 1 ? "1 day" : `${input.daysLeft} days`;
      return compose(input, ctx, {
        subject: `Your ${input.plan} term ends on ${when}`,
        paragraphs: [
          `Your ${input.plan} term of ${input.seats} ${input.seats === 1 ? "seat" : "seats"} ends on ${when}, in ${days}. It does not renew by itself.`,
          "To keep your people's access without a gap, renew before then (with the purchase order number of the next term). The next term's invoice is issued when it starts, on your usual payment terms.",
        ],
        action: "Open the billing app",
      });
    }
    case "organization_invoice_overdue": {
      const po = input.poNumber ? ` (PO ${input.poNumber})` : "";
      const days = input.daysOverdue === 1 ? "1 day" : `${input.daysOverdue} days`;
      return compose(input, ctx, {
        subject: `Invoice ${input.invoiceNumber} is ${days} past due`,
        paragraphs: [
          `Invoice ${input.invoiceNumber}${po} for ${formatMoney(input.amountDue)} was due on ${formatDate(input.dueDate)} and is not paid yet.`,
          "Your seats stay active. Please pay by ACH, check or through Treasury's systems, quoting the invoice number, or tell us if it has been paid already.",
          ...(input.invoiceUrl ? [`The invoice can be read, downloaded and paid at ${input.invoiceUrl}`] : []),
        ],
        action: "Open the billing app",
      });
    }
  }
}
