import { describe, expect, it } from "vitest";
import { call, makeKey } from "./helpers";

const problemOf = async (res: Response) => ({ status: res.status, type: res.headers.get("content-type"), body: (await res.json()) as { code: string; errors?: { field: string }[] } });

describe("analytics API", () => {
  it("analysts and admins read the report, cohorts, churn risk and targets; the service key may not", async () => {
    const analyst = (await makeKey("analyst")).key;
    const service = (await makeKey("service")).key;
    for (const path of ["/v1/analytics/report?from=2025-01&to=2025-03", "/v1/analytics/cohorts?from=2025-01&to=2025-03", "/v1/analytics/churn-risk", "/v1/analytics/targets"]) {
      expect((await call("GET", path, { key: analyst })).status, path).toBe(200);
      expect((await call("GET", path, { key: service })).status, path).toBe(403);
    }
    const report = (await (await call("GET", "/v1/analytics/report?period=quarterly&from=2025-01&to=2025-06", { key: analyst })).json()) as {
      period: string;
      rows: { period: string }[];
      definitions: Record<string, string>;
    };
    expect(report.period).toBe("quarterly");
    expect(report.rows.map((r) => r.period)).toEqual(["2025-Q1", "2025-Q2"]);
    expect(Object.keys(report.definitions)).toEqual(expect.arrayContaining(["mrr", "new_mrr", "churned_mrr", "ltv", "cac"]));
  });

  it("bad months, from after to, an unknown period and a range over 10 years are 400 problems naming the field", async () => {
    const key = (await makeKey("analyst")).key;
    const cases: [string, string][] = [
      ["/v1/analytics/report?from=2025-13&to=2026-01", "query.from"],
      ["/v1/analytics/report?from=2025-01&to=26-01", "query.to"],
      ["/v1/analytics/report?from=2025-06&to=2025-01", "query.from"],
      ["/v1/analytics/report?period=weekly&from=2025-01&to=2025-02", "query.period"],
      ["/v1/analytics/report?from=2015-01&to=2025-01", "query.to"],
      ["/v1/analytics/report?to=2025-01&from=", "query.from"],
      ["/v1/analytics/report?from=2025-01&to=2025-02&gross_margin=1.5", "query.gross_margin"],
      ["/v1/analytics/cohorts?from=2025-05&to=2025-01", "query.from"],
    ];
    for (const [path, field] of cases) {
      const p = await problemOf(await call("GET", path, { key }));
      expect(p.status, path).toBe(400);
      expect(p.type, path).toMatch(/application\/problem\+json/);
      expect(
        p.body.errors?.map((e) => e.field),
        path,
      ).toContain(field);
    }
    // Exactly ten years (120 months) is allowed.
    expect((await call("GET", "/v1/analytics/report?period=annual&from=2015-01&to=2024-12", { key })).status).toBe(200);
  });

  it("the report is CSV with Accept: text/csv, one line per period with the JSON's columns", async () => {
    const key = (await makeKey("analyst")).key;
    const res = await call("GET", "/v1/analytics/report?from=2025-01&to=2025-03", { key, headers: { accept: "text/csv" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/csv/);
    const lines = (await res.text()).trim().split("\r\n");
    expect(lines[0]!.split(",").slice(0, 4)).toEqual(["currency", "period", "opening_mrr", "new_mrr"]);
    expect(lines.slice(1).map((l) => l.split(",")[1])).toEqual(["2025-01", "2025-02", "2025-03"]);
  });

  it("an admin enters a month's marketing spend and the report divides it by the month's new customers; an analyst may not", async () => {
    const admin = (await makeKey("admin")).key;
    const analyst = (await makeKey("analyst")).key;
    expect((await call("PUT", "/v1/analytics/spend/2019-03", { key: analyst, body: { amount: 100 } })).status).toBe(403);
    const bad = await problemOf(await call("PUT", "/v1/analytics/spend/2019-3", { key: admin, body: { amount: 100 } }));
    expect([bad.status, bad.body.errors?.[0]?.field]).toEqual([400, "path.month"]);
    const neg = await problemOf(await call("PUT", "/v1/analytics/spend/2019-03", { key: admin, body: { amount: -1 } }));
    expect([neg.status, neg.body.errors?.[0]?.field]).toEqual([400, "body.amount"]);
    const put = await call("PUT", "/v1/analytics/spend/2019-03", { key: admin, body: { amount: 12_345, currency: "usd" } });
    expect(put.status).toBe(200);
    expect(await put.json()).toMatchObject({ month: "2019-03", amount: 12_345, currency: "usd" });
    await call("PUT", "/v1/analytics/spend/2019-03", { key: admin, body: { amount: 50_000 } });
    const r = (await (await call("GET", "/v1/analytics/report?from=2019-03&to=2019-03", { key: analyst })).json()) as {
      rows: { marketing_spend: number | null; cac: number | null; new_customers: number }[];
    };
    // Replaced, not added; no customer started in 2019, so there is spend but no CAC.
    expect(r.rows[0]).toMatchObject({ marketing_spend: 50_000, new_customers: 0, cac: null });
  });
});
