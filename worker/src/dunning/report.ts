/**
 * What `GET /v1/dunning` shows: the open cases (oldest next action first), each with its stage,
 * the next stage and when it is due, and how often cases recover, by the stage they had reached
 * and by decline code. A case counts once it is closed or still open; the rate is recovered ÷ all.
 */
import { asc, eq, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { dunningCases } from "../db/schema";
import { dunningPolicy, nextStage, stageAt, type DunningPolicy, type DunningStage } from "./policy";

export interface DunningReport {
  open: {
    caseId: string;
    invoiceId: string;
    subscriptionId: string;
    customerId: string;
    userId: string | null;
    stage: string | null;
    /** The next stage, or the worker's next retry (`retry_<n>`), whichever comes first. */
    nextAction: string | null;
    nextActionAt: number | null;
    anchorAt: number;
    amount: number;
    currency: string;
    declineCode: string | null;
    lastDeclineCode: string | null;
    retries: number;
    nextRetryAt: number | null;
    stripeNextAttemptAt: number | null;
  }[];
  byStage: { stage: string; cases: number; recovered: number; rate: number }[];
  byDeclineCode: { declineCode: string; cases: number; recovered: number; rate: number }[];
}

const rate = (recovered: number, cases: number) => (cases === 0 ? 0 : Math.round((recovered / cases) * 10_000) / 10_000);

export async function dunningReport(db: Db, limit: number, policy: DunningPolicy = dunningPolicy): Promise<DunningReport> {
  const open = await db.select().from(dunningCases).where(eq(dunningCases.status, "open")).orderBy(asc(dunningCases.nextActionAt), asc(dunningCases.id)).limit(limit).all();
  const recovered = sql<number>`sum(case when ${dunningCases.status} = 'recovered' then 1 else 0 end)`;
  const stage = sql<string>`coalesce(${dunningCases.stage}, 'none')`;
  const byStage = await db.select({ stage, cases: sql<number>`count(*)`, recovered }).from(dunningCases).groupBy(stage).all();
  const code = sql<string>`coalesce(${dunningCases.declineCode}, 'none')`;
  const byCode = await db.select({ code, cases: sql<number>`count(*)`, recovered }).from(dunningCases).groupBy(code).all();
  return {
    open: open.map((c) => {
      const stage = nextStage(c.stage as DunningStage | null, policy);
      const retryFirst = c.nextRetryAt !== null && (!stage || c.nextRetryAt <= stageAt(c.anchorAt, stage.day));
      return {
        caseId: c.id,
        invoiceId: c.invoiceId,
        subscriptionId: c.subscriptionId,
        customerId: c.customerId,
        userId: c.userId,
        stage: c.stage,
        nextAction: retryFirst ? `retry_${c.retries + 1}` : (stage?.stage ?? null),
        nextActionAt: c.nextActionAt,
        anchorAt: c.anchorAt,
        amount: c.amount,
        currency: c.currency,
        declineCode: c.declineCode,
        lastDeclineCode: c.lastDeclineCode,
        retries: c.retries,
        nextRetryAt: c.nextRetryAt,
        stripeNextAttemptAt: c.stripeNextAttemptAt,
      };
    }),
    byStage: byStage.map((r) => ({ stage: r.stage, cases: Number(r.cases), recovered: Number(r.recovered ?? 0), rate: rate(Number(r.recovered ?? 0), Number(r.cases)) })),
    byDeclineCode: byCode.map((r) => ({ declineCode: r.code, cases: Number(r.cases), recovered: Number(r.recovered ?? 0), rate: rate(Number(r.recovered ?? 0), Number(r.cases)) })),
  };
}
