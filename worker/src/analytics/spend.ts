/** Marketing spend per month, entered by an admin, for CAC. */
import { and, eq, sql } from "drizzle-orm";
import type { Actor } from "../audit";
import { marketingSpend } from "../db/schema";
import { invalidInput } from "../errors";
import type { Services } from "../services";
import { monthLabel, parseMonth } from "./months";
import { instant } from "../instant";

export interface SpendInput {
  amount: number;
  currency?: string;
  note?: string | null;
}

export interface SpendView {
  month: string;
  currency: string;
  amount: number;
  note: string | null;
  updated_at: string;
}

/** Sets (replaces) the spend of `month`, audited with what it replaced. */
export async function setMarketingSpend(deps: Pick<Services, "db" | "clock" | "audit">, who: Actor, month: string, input: SpendInput): Promise<SpendView> {
  const m = monthLabel(parseMonth("month", month));
  if (!Number.isSafeInteger(input.amount) || input.amount < 0)
    throw invalidInput("amount", "must be a non-negative integer of cents", `amount is integer minor units (cents), 0 or more, not ${input.amount}.`);
  const currency = (input.currency ?? "usd").toLowerCase();
  if (!/^[a-z]{3}$/.test(currency)) throw invalidInput("currency", "must be an ISO 4217 code", `currency must be a three-letter ISO 4217 code such as usd, not ${JSON.stringify(input.currency)}.`);
  const now = deps.clock.now();
  const row = { month: m, currency, amount: input.amount, note: input.note ?? null, updatedAt: now, updatedBy: who.id };
  return deps.audit.commit(async () => {
    const before = await deps.db
      .select()
      .from(marketingSpend)
      .where(and(eq(marketingSpend.month, m), eq(marketingSpend.currency, currency)))
      .get();
    const summary = (r: { amount: number; currency: string; note: string | null }) => ({ amount: r.amount, currency: r.currency, note: r.note });
    return {
      statements: [
        deps.db
          .insert(marketingSpend)
          .values(row)
          .onConflictDoUpdate({
            target: [marketingSpend.month, marketingSpend.currency],
            set: { amount: sql`excluded.amount`, note: sql`excluded.note`, updatedAt: sql`excluded.updated_at`, updatedBy: sql`excluded.updated_by` },
          }),
      ],
      entries: [{ actor: who, action: "marketing_spend.set", subject: { type: "marketing_spend", id: `${m}:${currency}` }, before: before ? summary(before) : undefined, after: summary(row) }],
      result: { month: m, currency, amount: input.amount, note: row.note, updated_at: instant(now) },
    };
  });
}
