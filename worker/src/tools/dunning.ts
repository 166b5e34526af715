/**
 * manage_dunning_process: the dunning case of a customer's failed payment, brought up to date
 * and explained. Stripe is asked for the customer's unpaid invoices; a failure the webhooks
 * missed goes through the webhook pipeline (which opens the case, dunning/cases.ts); a stage or
 * retry that is due runs now through the cron's own step (dunning/tick.ts dunningTickCases);
 * then the case, its steps and the policy say what was done and what comes next.
 *
 * `amount` is dollars as the agent writes them: cents come from the decimal text (tools/money.ts),
 * and it and `failure_count` are only compared with Stripe's invoice, never used in its place.
 */
import { and, asc, desc, eq, inArray } from "drizzle-orm";
import { z } from "zod";
import { isMissing, Stripe } from "../stripe-sync";
import { dunningCases, dunningSteps } from "../db/schema";
import { caseIdOf, nextStage, stageAt, type DunningStage, dunningTickCases } from "../dunning";
import { DomainError } from "../errors";
import type { Services } from "../services";
import { findEvent, runEvent } from "./stripe-sync";
import { dollarsToCents, dollarText, dollarTextProblem, formatDollars } from "./money";
import { Instant, instant } from "../instant";
import { defineTool } from "./types";

const Input = z.strictObject({
  customer_id: z
    .string()
    .regex(/^cus_[A-Za-z0-9]{1,255}$/, "must be a Stripe customer id (cus_...)")
    .describe("The Stripe customer whose payment failed"),
  failure_count: z.int().min(1).max(100).describe("Failed attempts the agent knows of; compared with Stripe's attempt count"),
  amount: z
    .union([z.number(), z.string()])
    .superRefine((v, ctx) => {
      const problem = dollarTextProblem(dollarText(v));
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    })
    .describe("The unpaid amount in dollars as the agent knows it, e.g. 49.00 (at most 2 decimals); compared with Stripe's amount due"),
});

const Action = z.object({ action: z.string(), at: Instant, detail: z.string() });

const Output = z.object({
  customer_id: z.string(),
  case_id: z.string().nullable(),
  invoice_id: z.string().nullable(),
  subscription_id: z.string().nullable(),
  status: z.enum(["open", "suspended", "recovered", "canceled", "none"]),
  stage: z.string().nullable().describe("The last stage reached: dunning_soft, dunning_urgent, dunning_final, suspended; null before the first"),
  amount_due: z.object({ amount: z.int().describe("Cents, from Stripe"), currency: z.string() }).nullable(),
  attempts: z.int().nullable().describe("Stripe's attempt count on the invoice"),
  done_now: z.array(z.string()).describe("What this call did (a due stage or retry run now, a missed failure synced)"),
  history: z.array(Action).describe("What dunning has done so far"),
  next_actions: z.array(Action).describe("What happens next and when"),
  disagreements: z.array(z.object({ field: z.string(), given: z.unknown(), stripe: z.unknown() })),
  summary: z.string(),
});

type Case = typeof dunningCases.$inferSelect;
type Act = z.input<typeof Action>;

const STAGE_WORDS: Record<DunningStage, string> = {
  dunning_soft: "soft reminder email",
  dunning_urgent: "urgent payment request email",
  dunning_final: "final notice email",
  suspended: "access suspended, suspension email",
};

/** The customer's invoice in dunning: an open invoice Stripe failed to collect, the one matching the agent's amount first. */
async function failedInvoice(s: Services, customerId: string, cents: number): Promise<Stripe.Invoice | null> {
  const open = (await s.stripe.invoices.list({ customer: customerId, status: "open", limit: 100 })).data.filter((i) => i.attempt_count > 0);
  open.sort((a, b) => a.created - b.created);
  return open.find((i) => i.amount_due === cents) ?? open[0] ?? null;
}

function history(c: Case, steps: (typeof dunningSteps.$inferSelect)[]): Act[] {
  const out: Act[] = [{ action: "payment_failed", at: instant(c.anchorAt), detail: `First failed payment of ${c.invoiceId}${c.declineCode ? ` (${c.declineCode})` : ""}: the case opened` }];
  for (const st of steps) {
    const what = st.step in STAGE_WORDS ? STAGE_WORDS[st.step as DunningStage] : st.step.startsWith("retry_") ? `payment retry ${st.step.slice(6)}` : st.step.replaceAll("_", " ");
    out.push({ action: st.step, at: instant(st.at), detail: `${what}: ${st.outcome}${st.emailKey ? " (email queued)" : ""}` });
  }
  if (c.closedAt !== null && c.status !== "suspended")
    out.push({
      action: c.status,
      at: instant(c.closedAt),
      detail: c.status === "recovered" ? "Paid: access restored, recovery email queued" : "Closed without payment (invoice voided or subscription ended)",
    });
  return out;
}

const CANCEL_WORDS = "The policy cancels the subscription after the suspension, marks its open invoices uncollectible and emails the customer, unless the invoice is paid first";

function nextActions(s: Services, c: Case): Act[] {
  const policy = s.dunning;
  const out: Act[] = [];
  if (c.status === "open") {
    for (let st = nextStage(c.stage as DunningStage | null, policy); st; st = nextStage(st.stage, policy)) {
      out.push({ action: st.stage, at: instant(stageAt(c.anchorAt, st.day)), detail: `Day ${st.day}: ${STAGE_WORDS[st.stage]} unless the invoice is paid first` });
    }
    if (c.nextRetryAt !== null) out.push({ action: `retry_${c.retries + 1}`, at: instant(c.nextRetryAt), detail: "The worker retries the payment (invoices.pay)" });
    if (c.stripeNextAttemptAt !== null) out.push({ action: "stripe_retry", at: instant(c.stripeNextAttemptAt), detail: "Stripe's own next automatic attempt" });
    const suspension = policy.stages.find((st) => st.stage === "suspended");
    if (suspension && policy.cancelAfterSuspensionDays !== null)
      out.push({ action: "subscription_canceled", at: instant(stageAt(c.anchorAt, suspension.day + policy.cancelAfterSuspensionDays)), detail: CANCEL_WORDS });
  } else if (c.status === "suspended" && c.nextActionAt !== null) {
    out.push({ action: "subscription_canceled", at: instant(c.nextActionAt), detail: CANCEL_WORDS });
  }
  return out.sort((a, b) => a.at.localeCompare(b.at));
}

async function run(s: Services, input: z.output<typeof Input>): Promise<z.input<typeof Output>> {
  const cents = dollarsToCents(input.amount, "amount");
  try {
    const customer = await s.stripe.customers.retrieve(input.customer_id);
    if (customer.deleted) throw new DomainError("not_found", `The Stripe customer ${input.customer_id} was deleted.`, { errors: [{ field: "customer_id", message: "deleted in Stripe" }] });
  } catch (e) {
    if (isMissing(e)) throw new DomainError("not_found", `Stripe has no customer ${input.customer_id}.`, { errors: [{ field: "customer_id", message: "no such customer in Stripe" }] });
    throw e;
  }
  const doneNow: string[] = [];
  let invoice = await failedInvoice(s, input.customer_id, cents);
  let kase: Case | undefined;
  if (invoice) {
    kase = await s.db
      .select()
      .from(dunningCases)
      .where(eq(dunningCases.id, caseIdOf(invoice.id)))
      .get();
    if (!kase) {
      // Stripe failed to collect but the mirror has no case: the failure's event never arrived.
      const event = await findEvent(s, "invoice.payment_failed", invoice.id, invoice.created);
      if (event) {
        const outcome = await runEvent(s, event);
        doneNow.push(`Synced the missed failure ${event.id} through the webhook pipeline (${outcome})`);
        kase = await s.db
          .select()
          .from(dunningCases)
          .where(eq(dunningCases.id, caseIdOf(invoice.id)))
          .get();
      }
    }
  } else {
    // Nothing unpaid in Stripe: the customer's latest case, if any, says how it ended.
    kase = await s.db.select().from(dunningCases).where(eq(dunningCases.customerId, input.customer_id)).orderBy(desc(dunningCases.anchorAt)).limit(1).get();
  }
  if (kase && (kase.status === "open" || kase.status === "suspended")) {
    const ticked = await dunningTickCases(s, [kase.id]);
    for (const r of ticked.retried) doneNow.push(`Retried the payment now: ${r.split(":").slice(1).join(" ")}`);
    for (const d of ticked.done) doneNow.push(`Ran the due step now: ${d.split(":").slice(1).join(" ")}`);
    for (const k of ticked.skipped) doneNow.push(`Passed over the overdue step ${k.split(":").slice(1).join(" ")} (a later one was due)`);
    if (ticked.lost > 0) doneNow.push("The cron moved the case at the same moment; its step stands");
    kase = (await s.db.select().from(dunningCases).where(eq(dunningCases.id, kase.id)).get()) ?? kase;
    // A retry made now changed the invoice's attempts (or paid it): report Stripe's figures after it.
    if (invoice && ticked.retried.length > 0) invoice = await s.stripe.invoices.retrieve(invoice.id);
  }
  const steps = kase
    ? await s.db
        .select()
        .from(dunningSteps)
        .where(and(inArray(dunningSteps.caseId, [kase.id])))
        .orderBy(asc(dunningSteps.at), asc(dunningSteps.id))
        .all()
    : [];
  const amountDue = invoice ? { amount: invoice.amount_due, currency: invoice.currency } : kase ? { amount: kase.amount, currency: kase.currency } : null;
  const attempts = invoice ? invoice.attempt_count : null;
  const disagreements: { field: string; given: unknown; stripe: unknown }[] = [];
  if (amountDue && amountDue.amount !== cents) disagreements.push({ field: "amount", given: formatDollars(cents, amountDue.currency), stripe: formatDollars(amountDue.amount, amountDue.currency) });
  if (attempts !== null && attempts !== input.failure_count) disagreements.push({ field: "failure_count", given: input.failure_count, stripe: attempts });
  const next = kase ? nextActions(s, kase) : [];
  const state = kase
    ? `${kase.status} dunning case ${kase.id} for ${kase.invoiceId}, stage ${kase.stage ?? "none yet"}`
    : invoice
      ? `an unpaid invoice ${invoice.id} but no dunning case (Stripe lists no failure event for it)`
      : "no failed payment and no dunning case";
  const summary = [
    `Customer ${input.customer_id}: ${state}.`,
    doneNow.length > 0 ? `Done now: ${doneNow.join("; ")}.` : "Nothing was due now.",
    next[0] ? `Next: ${next[0].action} at ${next[0].at}.` : "",
    disagreements.length > 0
      ? `Stripe disagrees with the input on ${disagreements.map((d) => `${d.field} (given ${String(d.given)}, Stripe ${String(d.stripe)})`).join(", ")}; Stripe's figures are used.`
      : "",
  ]
    .filter(Boolean)
    .join(" ");
  return {
    customer_id: input.customer_id,
    case_id: kase?.id ?? null,
    invoice_id: kase?.invoiceId ?? invoice?.id ?? null,
    subscription_id: kase?.subscriptionId ?? null,
    status: kase?.status ?? "none",
    stage: kase?.stage ?? null,
    amount_due: amountDue,
    attempts,
    done_now: doneNow,
    history: kase ? history(kase, steps) : [],
    next_actions: next,
    disagreements,
    summary,
  };
}

export const manageDunningProcess = defineTool({
  name: "manage_dunning_process",
  description:
    "Manage the dunning of a customer's failed payment: makes sure the case exists (syncing a failure the webhooks missed), runs any stage or retry that is due now, and returns the stage, what was done, and the next actions with their dates. `amount` is in dollars (49.00 = 4900 cents, at most 2 decimals); it and `failure_count` are checked against Stripe's invoice, and a disagreement is reported.",
  input: Input,
  output: Output,
  permission: "dunning:write",
  twin: { none: "it moves a dunning case on now, as the dunning cron does; no route does that" },
  access: "write",
  examples: [{ customer_id: "cus_123", failure_count: 2, amount: 49.0 }],
  exactDecimals: ["amount"],
  handler: run,
});
