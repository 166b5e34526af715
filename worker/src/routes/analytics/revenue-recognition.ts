import { createRoute, z } from "@hono/zod-openapi";
import { revenueRecognition } from "../../analytics";
import { guard, handle } from "../../http/route";
import { keyedErrors, named } from "../../http/schemas";
import { presentRecognitionJournalCsv, presentRevenueRecognition, RecognitionRow, RevenueRecognitionSchema } from "../../presenters";
import { MonthParam } from "./schemas";

const Query = z.strictObject({
  from: MonthParam.optional().describe("First month, YYYY-MM; default: 11 months before to"),
  to: MonthParam.optional().describe("Last month, YYYY-MM (at most 60 months from from); default: this month"),
  format: z.enum(["json", "csv"]).optional().describe("csv: the journal, as with Accept: text/csv; default json, or csv when Accept asks for it"),
});

const Recognition = named(RevenueRecognitionSchema.extend({ rows: z.array(named(RecognitionRow, "RevenueRecognitionRow")) }), "RevenueRecognition");

const route = createRoute({
  method: "get",
  path: "/v1/analytics/revenue-recognition",
  ...guard("analytics:read"),
  summary: "Recognized and deferred revenue per month and currency (JSON), or its journal (CSV with Accept: text/csv or format=csv)",
  tags: ["analytics"],
  request: { query: Query },
  responses: {
    200: {
      description: "Per month and currency: deferred opening and closing, billed, recognized, refunded, in integer minor units; the CSV is the journal: date, account, debit, credit, currency, memo",
      content: { "application/json": { schema: Recognition }, "text/csv": { schema: z.string() } },
    },
    ...keyedErrors,
  },
});

const wantsCsv = (accept: string | undefined) => /(^|,)\s*text\/csv\b/i.test(accept ?? "");

export default handle(route, async (c) => {
  const q = c.req.valid("query");
  const r = await revenueRecognition(c.get("services"), { from: q.from, to: q.to });
  if (q.format === "csv" || (q.format === undefined && wantsCsv(c.req.header("accept")))) {
    return c.body(presentRecognitionJournalCsv(r), 200, {
      "content-type": "text/csv; charset=utf-8",
      "content-disposition": `attachment; filename="revenue-recognition-${r.from}-${r.to}.csv"`,
    }) as never;
  }
  return c.json(presentRevenueRecognition(r), 200);
});
