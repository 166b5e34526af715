/**
 * The rule of every input the API and the agent tools take, written once: route contracts
 * (routes/) and tool contracts (tools/) import the same schema, so the same bad value gets the
 * same problem (`type`, `detail`, failing field) from a route and from its tool twin, and a rule
 * changed here changes for both. Plain zod, since tools/ may not import `@hono/*`;
 * @hono/zod-openapi documents these as they are in /openapi.json (descriptions through zod's own
 * `.describe()`), and a route adds its own OpenAPI details (`.openapi({ param })`) on top.
 *
 * That is why this module loads @hono/zod-openapi before it builds a schema: zod gives a schema
 * the `.openapi()` method only when it is built after that module has loaded, and this one is
 * reached first through tools/, presenters/ or mcp/ as often as through a route.
 */
import "@hono/zod-openapi";
import { z } from "zod";
import { BILLING_CYCLES, catalog, individualTiers } from "./catalog";
import { DISPUTE_STATUSES, REFUND_REASONS } from "./db/schema";

/**
 * What a user id of the app looks like: the API takes only these, so an id from elsewhere
 * (a Checkout session's client_reference_id, `metadata.user_id` on a Stripe object) that is not
 * one could never be looked up (entitlements/user-id.ts reads Stripe's values with it).
 */
export const USER_ID_PATTERN = /^[A-Za-z0-9_.:@-]{1,128}$/;

/** An Idempotency-Key: printable ASCII without spaces, as long as Stripe allows: a UUID, a hash or the client's own id. */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

export const UserId = z.string().regex(USER_ID_PATTERN, "must be a user id: 1-128 of A-Z a-z 0-9 _ . : @ -").describe("The app's user id");

/** A plain address: no spaces, one @, a dot in the domain (Stripe checks it further). */
export const Email = z
  .string()
  .min(3)
  .max(254)
  .regex(/^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/, "must be an email address");

/** Stripe promotion codes: letters, digits, dashes and underscores. */
export const PromotionCode = z.string().regex(/^[A-Za-z0-9_-]{1,200}$/, "must be 1-200 of A-Z a-z 0-9 _ -");

/**
 * Where Stripe sends the user back: an http(s) URL. Its origin is checked by the domain call
 * (subscriptions/return-url.ts), which knows the app's origins; this is the shape both contracts share.
 */
export const ReturnUrl = z
  .url({ protocol: /^https?$/ })
  .max(2000)
  .describe(
    "An http(s) URL on one of the app's origins (APP_BASE_URL's, or one listed in APP_ORIGINS; any localhost port in development and test). Another origin is a 400 `validation_failed` naming this field.",
  );

export const TestClockId = z.string().regex(/^clock_[A-Za-z0-9]{1,64}$/, "must be a Stripe test clock id (clock_...)");

/** The tiers a person buys (Checkout, plan changes); an organization's seats are bought through POST /v1/organizations. */
export const TIER_KEYS = individualTiers(catalog).map((t) => t.key) as [string, ...string[]];

export const TierKey = z.enum(TIER_KEYS).describe(`A tier of the catalog: ${TIER_KEYS.join(", ")}`);

/** Any tier a user's entitlement may name, the organizations' seat tiers included. */
export const ANY_TIER_KEYS = catalog.tiers.map((t) => t.key) as [string, ...string[]];

export const AnyTierKey = z.enum(ANY_TIER_KEYS).describe(`A tier of the catalog: ${ANY_TIER_KEYS.join(", ")}`);

export const BillingCycle = z
  .enum(BILLING_CYCLES)
  .describe(`How often the plan bills: ${BILLING_CYCLES.map((c) => `\`${c}\``).join(", ")} (two_year and three_year are prepaid: one charge for the whole period)`);

/** A calendar month (UTC). */
export const Month = z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, "must be a month as YYYY-MM");

export const Currency = z.string().regex(/^[A-Za-z]{3}$/, "must be an ISO 4217 code");

/**
 * A gross margin for LTV, as a fraction above 0 and at most 1. `number` is where it comes from:
 * JSON gives a number, a query string a text to coerce.
 */
export const GrossMargin = (number: z.ZodNumber = z.number()) => number.gt(0).lte(1).describe("For LTV; default 0.8");

export const EventId = z.string().regex(/^evt_[A-Za-z0-9_]{1,100}$/, "must be a Stripe event id (evt_...)");

export const IdempotencyKey = z.string().regex(IDEMPOTENCY_KEY_PATTERN, "must be 1-255 printable ASCII characters without spaces");

/** A page size from the query string: 1 to `max`, `fallback` when absent. */
export const pageLimit = (max: number, fallback: number) => z.coerce.number().int().min(1).max(max).default(fallback);

/** A Stripe invoice id, as Stripe makes them. */
export const InvoiceId = z
  .string()
  .regex(/^in_[A-Za-z0-9]{1,100}$/, "must be a Stripe invoice id (in_...)")
  .describe("A Stripe invoice id (in_...)");

/** A Stripe dispute id, as Stripe makes them. */
export const DisputeId = z
  .string()
  .regex(/^(dp|du)_[A-Za-z0-9]{1,100}$/, "must be a Stripe dispute id (dp_...)")
  .describe("A Stripe dispute id (dp_...)");

/** Whether evidence goes to the card issuer now (true) or is staged on the dispute for a person to review and submit (false, the default). */
export const SubmitEvidence = z.boolean().describe("true submits the evidence to the card issuer now (it can then no longer be changed); false (the default) stages it on the dispute");

/** Why money goes back; stored with the refund (the credit note's metadata) and shown in GET /v1/refunds. */
export const RefundReason = z.enum(REFUND_REASONS).describe("`requested_by_customer`, `duplicate`, `fraudulent` or `service_issue`");

/** A refund's amount: integer cents, at least 1 (at most what the invoice paid and has not had back: a 422 otherwise). */
export const RefundAmount = z
  .int()
  .min(1)
  .max(100_000_000)
  .describe("Integer cents in the invoice's currency; all that is paid and not yet refunded when left out. More than that is a 422 `refund_exceeds_paid` naming `amount`.");

/** Stripe's dispute reasons (https://docs.stripe.com/api/disputes/object#dispute_object-reason). */
export const DISPUTE_REASONS = [
  "bank_cannot_process",
  "check_returned",
  "credit_not_processed",
  "customer_initiated",
  "debit_not_authorized",
  "duplicate",
  "fraudulent",
  "general",
  "incorrect_account_details",
  "insufficient_funds",
  "noncompliant",
  "product_not_received",
  "product_unacceptable",
  "subscription_canceled",
  "unrecognized",
] as const;

/** A filter on Stripe's dispute reason. */
export const DisputeReason = z.enum(DISPUTE_REASONS).describe("Stripe's dispute reason: `fraudulent`, `unrecognized`, `product_not_received`, `duplicate`, `general`, ...");

/** A filter on Stripe's dispute status. */
export const DisputeStatus = z.enum(DISPUTE_STATUSES).describe("Stripe's dispute status: `needs_response`, `under_review`, `won`, `lost`, `prevented`, or an inquiry's `warning_*`");

/** Overrides the refund policy: true ends access now (the subscription is cancelled at once), false keeps it. */
export const EndAccess = z.boolean().describe("Overrides the refund policy: true cancels the subscription at once and ends access, false keeps both");

/**
 * An outbound webhook endpoint's URL, as a shape (an absolute URL, at most 2048 characters); where
 * it may point depends on the deployment, so `webhookUrlProblem` checks that, when an endpoint is
 * saved and again before each delivery.
 */
export const WebhookUrl = z
  .string()
  .max(2048)
  .url("must be an absolute URL")
  .describe("Where deliveries are POSTed: https (http only to localhost in development and test), no credentials, no private address");

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Whether an IPv4 literal is loopback, private, link-local, CGNAT, "this network", multicast or reserved. */
function privateIpv4(host: string): boolean {
  const m = IPV4.exec(host);
  if (!m) return false;
  const [a, b] = [Number(m[1]), Number(m[2])];
  return a === 0 || a === 10 || a === 127 || (a === 100 && b >= 64 && b <= 127) || (a === 169 && b === 254) || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || a >= 224;
}

/** The eight 16-bit groups of an IPv6 literal as the URL parser writes it (lower-case hex, `::` at most once, no dotted tail), or null. */
function ipv6Groups(host: string): number[] | null {
  const halves = host.toLowerCase().split("::");
  if (halves.length > 2) return null;
  const parse = (part: string) => (part === "" ? [] : part.split(":").map((g) => (/^[0-9a-f]{1,4}$/.test(g) ? Number.parseInt(g, 16) : Number.NaN)));
  const head = parse(halves[0]!);
  const tail = halves.length === 2 ? parse(halves[1]!) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const groups = [...head, ...Array<number>(missing).fill(0), ...tail];
  return groups.some(Number.isNaN) ? null : groups;
}

/**
 * Whether an IPv6 literal (without brackets) is unspecified, loopback, unique-local, link-local,
 * site-local or multicast, or carries a private IPv4 address in its last 32 bits. The parser writes
 * `[::ffff:127.0.0.1]` as `[::ffff:7f00:1]`, so the embedded address is read from the hex groups:
 * IPv4-mapped `::ffff:0:0/96`, IPv4-translated `::ffff:0:0:0/96`, IPv4-compatible `::/96` (which
 * also covers `::` and `::1`) and the NAT64 well-known prefix `64:ff9b::/96` all reach that IPv4
 * address; the local-use NAT64 prefix `64:ff9b:1::/48` is refused whole, since where its IPv4
 * address sits depends on the operator's prefix length.
 */
function privateIpv6(host: string): boolean {
  const g = ipv6Groups(host);
  if (!g) return false;
  const [g0, g1, g2, g3, g4, g5, g6, g7] = g as [number, number, number, number, number, number, number, number];
  if ((g0 & 0xfe00) === 0xfc00 || (g0 & 0xffc0) === 0xfe80 || (g0 & 0xffc0) === 0xfec0 || (g0 & 0xff00) === 0xff00) return true;
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 1) return true;
  const zeroUpTo = (n: number) => g.slice(0, n).every((x) => x === 0);
  const embedsIpv4 = zeroUpTo(6) || (zeroUpTo(5) && g5 === 0xffff) || (zeroUpTo(4) && g4 === 0xffff && g5 === 0) || (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0);
  return embedsIpv4 && privateIpv4(`${g6 >> 8}.${g6 & 0xff}.${g7 >> 8}.${g7 & 0xff}`);
}

const LOCAL_NAMES = new Set(["localhost", "127.0.0.1"]);

/**
 * Why `url` may not receive webhooks in this deployment, or null when it may: https only (http to
 * localhost or 127.0.0.1 in development and test, for a receiver on the developer's machine), no
 * user or password in it, no loopback, private or link-local address (nor `localhost`) outside
 * development and test. A name is not resolved here: Cloudflare's fetch does not reach private
 * networks from a deployed Worker, and the rule keeps the literal ways in out.
 */
export function webhookUrlProblem(url: string, environment: "development" | "test" | "production"): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return "must be an absolute URL";
  }
  if (u.username || u.password) return "must not carry a user name or password: use the signature to authenticate deliveries";
  // A fully qualified name ends in a dot (`localhost.` is localhost), so trailing dots go before the name tests.
  const name = u.hostname.replace(/\.+$/, "");
  const local = environment !== "production" && LOCAL_NAMES.has(name);
  if (u.protocol !== "https:" && !(u.protocol === "http:" && local)) return environment === "production" ? "must be https" : "must be https (http only to localhost or 127.0.0.1 here)";
  if (local) return null;
  const host = name.replace(/^\[|\]$/g, "");
  if (host === "localhost" || host.endsWith(".localhost") || privateIpv4(host) || privateIpv6(host)) return "must not point at a loopback, private or link-local address";
  return null;
}

/** An organization's id in the app (an agency's code, say): what its seats and its routes are keyed by. */
export const OrgId = z
  .string()
  .regex(/^[A-Za-z0-9_.:-]{1,64}$/, "must be an organization id: 1-64 of A-Z a-z 0-9 _ . : -")
  .describe("The app's organization id");

/** Printable text without control characters, as names and addresses are printed on invoices. */
const printable = (max: number, what: string) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[^\p{Cc}]+$/u, `must be 1-${max} printable characters (${what})`)
    .refine((v) => v.trim() === v && v.length > 0, `must not start or end with a space (${what})`);

export const OrgName = printable(140, "the name printed on its invoices").describe("The organization's name, printed on its invoices (an invoice custom field)");

const US_STATE = /^(A[KLRZ]|C[AOT]|D[CE]|FL|GA|HI|I[ADLN]|K[SY]|LA|M[ADEINOST]|N[CDEHJMVY]|O[HKR]|P[AR]|RI|S[CD]|T[NX]|UT|V[AIT]|W[AIVY]|A[ES]|AP|AS|GU|MP|VI|UM)$/;

/**
 * A billing address as Stripe takes it (`address` on the customer), which decides the invoice's
 * tax and is printed on it: ISO 3166-1 alpha-2 country; in the US a two-letter state or territory
 * and a ZIP code (12345 or 12345-6789).
 */
export const PostalAddress = z
  .strictObject({
    line1: printable(200, "a street address"),
    line2: printable(200, "a suite, floor or mail stop").optional(),
    city: printable(100, "a city"),
    state: printable(100, "a state, province or region"),
    postal_code: printable(20, "a postal code"),
    country: z.string().regex(/^[A-Z]{2}$/, "must be an ISO 3166-1 alpha-2 country code in capitals (US)"),
  })
  .superRefine((a, ctx) => {
    if (a.country !== "US") return;
    if (!US_STATE.test(a.state)) ctx.addIssue({ code: "custom", path: ["state"], message: "must be a two-letter US state or territory code (DC)" });
    if (!/^\d{5}(-\d{4})?$/.test(a.postal_code)) ctx.addIssue({ code: "custom", path: ["postal_code"], message: "must be a US ZIP code (12345 or 12345-6789)" });
  })
  .describe("The billing address: printed on invoices and deciding their tax");

/** A US Employer Identification Number, as Stripe's `us_ein` tax id takes it. */
export const TaxIdEin = z
  .string()
  .regex(/^\d{2}-\d{7}$/, "must be a US EIN (12-3456789)")
  .describe("The organization's US Employer Identification Number (12-3456789), shown on its invoices");

/** Whether an organization owes no sales tax (federal agencies usually do not): its Stripe customer is `tax_exempt: "exempt"`. */
export const TaxExempt = z.boolean().describe("The organization is exempt from sales tax: its invoices carry none, wherever its address is");

/**
 * A purchase order number, printed on every invoice of the term as an invoice custom field: at
 * most 30 characters, the value length Stripe's custom fields long allowed (140 since), so it
 * prints whole on the invoice's header whatever the account's API version.
 */
export const PoNumber = z
  .string()
  .regex(/^[\x20-\x7e]{1,30}$/, "must be 1-30 printable ASCII characters (an invoice custom field)")
  .refine((v) => v.trim() === v, "must not start or end with a space")
  .describe("The purchase order number, printed on each invoice (at most 30 characters)");

const orgPolicy = catalog.policy.organizations;

/** Seats an organization buys: 1 to the policy's maximum. */
export const Seats = z.int().min(1).max(orgPolicy.max_seats).describe(`Seats: 1 to ${orgPolicy.max_seats}`);

const TERM_MONTHS = orgPolicy.terms.map((t) => t.months);

/** A term the catalog prices (policy.organizations.terms). */
export const TermMonths = z
  .int()
  .refine((m) => TERM_MONTHS.includes(m as 12 | 24 | 36), `must be one of ${TERM_MONTHS.join(", ")} (months)`)
  .describe(`The term in months: ${TERM_MONTHS.join(", ")}`);

/** How an organization paid an invoice outside Stripe. */
export const OutOfBandMethod = z.enum(["ach", "check", "treasury", "card"]).describe("`ach`, `check`, `treasury` (Treasury's payment systems) or `card` (taken outside Stripe)");

/** What identifies the payment in the agency's books: an ACH trace number, a check number, a Treasury payment id. */
export const PaymentReference = z
  .string()
  .regex(/^[\x20-\x7e]{1,100}$/, "must be 1-100 printable ASCII characters")
  .refine((v) => v.trim() === v, "must not start or end with a space")
  .describe("The payment's reference: an ACH trace number, a check number, a Treasury payment id (at most 100 characters; Stripe metadata)");

/**
 * What an organization buys (POST /v1/organizations, and create_subscription's `organization`
 * form): one definition, so the route and the tool take the same body and refuse the same
 * values naming the same fields.
 */
export const OrganizationPurchase = z.strictObject({
  org_id: OrgId,
  name: OrgName,
  billing_email: Email.describe("Where invoices and reminders go"),
  address: PostalAddress,
  tax_id: TaxIdEin.optional(),
  tax_exempt: TaxExempt.default(false),
  po_number: PoNumber.optional(),
  seats: Seats,
  term_months: TermMonths,
  test_clock: TestClockId.optional().describe("A Stripe test clock for the organization's new customer (test mode only)"),
});
export type OrganizationPurchaseBody = z.output<typeof OrganizationPurchase>;

export interface InputIssue {
  /** The dotted path of the failing input from the top of what was parsed (`organization.seats`); empty for the whole input. */
  path: string[];
  message: string;
  code: string;
}

/**
 * The failing inputs of a zod error, each by its dotted path, for a problem's `errors`: an
 * unknown key names the key itself. A union that matched no form names the fields of the form
 * the input meant (the one form that knows more of its keys than any other: `{ organization }`
 * is the organization form, `{ user_id, tier }` the user's), since "invalid input" at the top
 * names nothing; when no form knows more keys than the others, or the input has keys of two
 * forms, the union's own message stands.
 * Routes (http/validation.ts) and tools (tools/types.ts) both read errors through it.
 */
export function inputIssues(issues: readonly z.core.$ZodIssue[], at: readonly PropertyKey[] = []): InputIssue[] {
  return issues.flatMap((issue): InputIssue[] => {
    const path = [...at, ...issue.path].map(String);
    if (issue.code === "unrecognized_keys") return issue.keys.map((k) => ({ path: [...path, k], message: "unknown field", code: issue.code }));
    if (issue.code === "invalid_union" && issue.errors.length > 1) {
      const meant = meantForm(issue.errors);
      if (meant) return inputIssues(meant, [...at, ...issue.path]);
    }
    return [{ path, message: issue.message, code: issue.code }];
  });
}

/**
 * The issues of the one form that leaves the fewest of the input's keys unknown; null when two
 * tie, or when a key it does not know is another form's (the input mixes forms).
 */
function meantForm(forms: readonly (readonly z.core.$ZodIssue[])[]): readonly z.core.$ZodIssue[] | null {
  const unknownKeys = forms.map((issues) => issues.flatMap((i) => (i.code === "unrecognized_keys" && i.path.length === 0 ? i.keys : [])));
  const fewest = Math.min(...unknownKeys.map((k) => k.length));
  const best = unknownKeys.flatMap((k, i) => (k.length === fewest ? [i] : []));
  if (best.length !== 1) return null;
  const meant = best[0]!;
  const othersKnow = (key: string) => unknownKeys.some((k, i) => i !== meant && !k.includes(key));
  return unknownKeys[meant]!.some(othersKnow) ? null : forms[meant]!;
}
