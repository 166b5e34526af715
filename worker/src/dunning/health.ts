/**
 * What /health says about dunning: when the worker retries (policy `retries.by = worker`) and
 * Stripe has scheduled its own attempt on an invoice with an open case, both are retrying, so
 * customers are charged more often than the policy says and declines pile up at the issuer.
 */
import { and, eq, isNotNull, sql } from "drizzle-orm";
import { dunningCases } from "../db/schema";
import type { Services } from "../services";

export interface DunningWarning {
  code: "stripe_retries_overlap";
  detail: string;
  cases: number;
}

export async function dunningWarnings(s: Pick<Services, "db" | "dunning">): Promise<DunningWarning[]> {
  if (s.dunning.retries.by !== "worker") return [];
  const row = await s.db
    .select({ n: sql<number>`count(*)` })
    .from(dunningCases)
    .where(and(eq(dunningCases.status, "open"), isNotNull(dunningCases.stripeNextAttemptAt)))
    .get();
  const cases = Number(row?.n ?? 0);
  if (cases === 0) return [];
  return [
    {
      code: "stripe_retries_overlap",
      cases,
      detail: `Stripe has scheduled its own retry on ${cases} invoice(s) the worker is also retrying. Turn off Stripe's automatic retries (Dashboard → Billing → Revenue recovery → Retries), or set DUNNING_RETRIES=stripe to leave retries to Stripe.`,
    },
  ];
}
