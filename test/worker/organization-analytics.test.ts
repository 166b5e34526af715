/**
 * Organizations in the revenue report (GET /v1/analytics/report): one customer of by_tier.agency
 * each, their seats' MRR (per-seat term price × seats ÷ the term's months), and the seats figure.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { call, makeKey } from "./helpers";
import { buyOrganization, takeSeats } from "./organization-term-helpers";

let service: string;
let analyst: string;
beforeAll(async () => {
  service = (await makeKey("service")).key;
  analyst = (await makeKey("analyst")).key;
});

interface Current {
  customers: number;
  mrr: number;
  by_tier: Record<string, { customers: number; mrr: number }>;
  seats: { organizations: number; sold: number; assigned: number };
}

const month = new Date().toISOString().slice(0, 7);
const current = async () => (await (await call("GET", `/v1/analytics/report?period=monthly&from=${month}&to=${month}`, { key: analyst })).json<{ current: Current }>()).current;

describe("organizations in the revenue report", () => {
  it("an organization is one agency customer; its seats count in MRR by the term's months and in the seats figure", async () => {
    const before = await current();
    const { orgId } = await buyOrganization(service, { seats: 4 });
    await takeSeats(service, orgId, 1);
    await buyOrganization(service, { seats: 3, term_months: 36 });
    const after = await current();
    // 4 × 39,000 ÷ 12 = 13,000; 3 × 105,300 ÷ 36 = 8,775.
    expect(after.mrr - before.mrr).toBe(21_775);
    expect(after.customers - before.customers).toBe(2);
    const agency = (c: Current) => c.by_tier.agency ?? { customers: 0, mrr: 0 };
    expect([agency(after).customers - agency(before).customers, agency(after).mrr - agency(before).mrr]).toEqual([2, 21_775]);
    expect([after.seats.organizations - before.seats.organizations, after.seats.sold - before.seats.sold, after.seats.assigned - before.seats.assigned]).toEqual([2, 7, 1]);
  });
});
