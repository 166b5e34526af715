/**
 * What a plan change costs, from Stripe's own invoice preview (never computed here): what is
 * charged now, each line as Stripe words and rounds it, and the next invoice after the change.
 */
import { catalog as defaultCatalog, type Catalog } from "../catalog";
import { invalidInput } from "../errors";
import type { Services } from "../services";
import { type ChangePlan, type Effective, chargedNow, planChange, type ChangeInput } from "./change-plan";
import { lineOf } from "./invoice-list";
import { managedSubscription } from "./managed";
import type { Stripe } from "../stripe-sync";
import { instantOfSeconds } from "../instant";

export interface ChangePreview {
  effective: Effective;
  amount_due_now: number;
  lines: { description: string; amount: number }[];
  next_invoice_amount: number;
  currency: string;
  /** Unix seconds the proration was computed at (the change uses the same moment). */
  proration_date: number;
}

/** Stripe's preview of the subscription with the plan's price, prorated as `behavior` says at `at`. */
async function preview(stripe: Stripe, plan: ChangePlan, behavior: ChangePlan["proration"], at: number): Promise<Stripe.Invoice> {
  const { sub, item } = plan.managed;
  return stripe.invoices.createPreview({
    subscription: sub.id,
    subscription_details: {
      items: [{ id: item.id, price: plan.priceId, quantity: item.quantity ?? 1 }],
      proration_behavior: behavior,
      ...(behavior === "none" ? {} : { proration_date: at }),
    },
  });
}

const linesOf = (inv: Stripe.Invoice, onlyProrations: boolean) =>
  inv.lines.data
    .map(lineOf)
    .filter((l) => !onlyProrations || l.proration)
    .map((l) => ({ description: l.description ?? "", amount: l.amount }));

/** The proration moment of a change made at `now`: inside the current period, as Stripe requires. */
export function prorationDate(plan: ChangePlan): number {
  const { item, now } = plan.managed;
  return Math.min(Math.max(now, item.current_period_start), item.current_period_end);
}

export async function previewPlan(deps: Pick<Services, "stripe">, plan: ChangePlan, at = prorationDate(plan)): Promise<ChangePreview> {
  const stripe = deps.stripe;
  const base = { effective: plan.effective, proration_date: at };
  if (chargedNow(plan)) {
    // Invoiced at once (an upgrade charged now, or any change of billing cycle, which
    // restarts the cycle): that invoice is what is due now; the next one bills the new price.
    const [charged, next] = await Promise.all([preview(stripe, plan, plan.proration, at), preview(stripe, plan, "none", at)]);
    return { ...base, amount_due_now: charged.amount_due, lines: linesOf(charged, false), next_invoice_amount: next.amount_due, currency: charged.currency };
  }
  if (plan.effective === "now" && plan.proration === "create_prorations") {
    const next = await preview(stripe, plan, "create_prorations", at);
    return { ...base, amount_due_now: 0, lines: linesOf(next, true), next_invoice_amount: next.amount_due, currency: next.currency };
  }
  // No proration (a trial, a switch without credit, a change at the period end, a revert):
  // nothing is charged now, and the next invoice bills the plan's price.
  const next = await preview(stripe, plan, "none", at);
  return { ...base, amount_due_now: 0, lines: [], next_invoice_amount: next.amount_due, currency: next.currency };
}

/** How long a preview's proration moment may be reused for the change it previewed. */
const PRORATION_DATE_MAX_AGE_S = 3600;

/**
 * The proration moment of a change: the caller's (from the preview they showed) when it is
 * inside the current period and recent, so the change charges exactly what was previewed.
 */
export function prorationDateFor(plan: ChangePlan, given: number | undefined): number {
  if (given === undefined) return prorationDate(plan);
  const { item, now } = plan.managed;
  if (given < item.current_period_start || given > item.current_period_end || given > now || given < now - PRORATION_DATE_MAX_AGE_S) {
    throw invalidInput(
      "proration_date",
      "must be inside the current period, not in the future, and at most an hour old",
      `proration_date must be between ${instantOfSeconds(Math.max(item.current_period_start, now - PRORATION_DATE_MAX_AGE_S))} and ${instantOfSeconds(Math.min(now, item.current_period_end))}; preview again for a fresh one.`,
    );
  }
  return given;
}

export async function previewChange(deps: Pick<Services, "db" | "stripe" | "clock">, userId: string, input: ChangeInput, from: Catalog = defaultCatalog): Promise<ChangePreview> {
  const managed = await managedSubscription(deps, userId);
  return previewPlan(deps, await planChange(deps, managed, input, from));
}
