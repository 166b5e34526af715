/**
 * create_subscription for an organization (POST /v1/tools/create_subscription and MCP): seats for
 * a term bought as POST /v1/organizations does, with the same refusals. (manage_seats is tested
 * in organization-members.test.ts.)
 */
import { beforeAll, describe, expect, it } from "vitest";
import { call, makeKey } from "./helpers";
import { expectProblem } from "./lifecycle-helpers";

let service: string;
beforeAll(async () => {
  service = (await makeKey("service")).key;
});

describe("create_subscription for an organization", () => {
  const create = (body: unknown) => call("POST", "/v1/tools/create_subscription", { key: service, body });
  const organization = (orgId: string, extra: Record<string, unknown> = {}) => ({
    org_id: orgId,
    name: "Office of Personnel Transition",
    billing_email: "ap@agency.example.gov",
    address: { line1: "1900 E St NW", city: "Washington", state: "DC", postal_code: "20415", country: "US" },
    po_number: "PO-2026-0042",
    seats: 3,
    term_months: 24,
    ...extra,
  });

  it("buys seats for a term as POST /v1/organizations does: the organization with its first invoice, nothing charged", async () => {
    const orgId = `org_tool_${Date.now().toString(36)}`;
    const res = await create({ organization: organization(orgId) });
    expect(res.status, await res.clone().text()).toBe(200);
    const out = await res.json<{ outcome: string; org_id: string; organization: { seats: number; term: { months: number }; invoices: { status: string; amount_due: number }[] } }>();
    expect(out).toMatchObject({ outcome: "organization_created", org_id: orgId, organization: { seats: 3, term: { months: 24 } } });
    // 3 seats × 74,100 cents for 24 months.
    expect(out.organization.invoices.map((i) => [i.status, i.amount_due])).toEqual([["open", 222_300]]);
    const view = await call("GET", `/v1/organizations/${orgId}`, { key: service });
    expect((await view.json<{ org_id: string }>()).org_id).toBe(orgId);
    await expectProblem(await create({ organization: organization(orgId) }), 409, "conflict");
  });

  it("refuses what the route refuses, and a user's fields beside an organization; a user still needs user_id and tier", async () => {
    await expectProblem(await create({ organization: organization("org_tool_bad", { term_months: 18 }) }), 400, "validation_failed", "body.organization.term_months");
    await expectProblem(await create({ organization: organization("org_tool_bad", { seats: 0 }) }), 400, "validation_failed", "body.organization.seats");
    await expectProblem(await create({ organization: organization("org_tool_bad"), user_id: "user_1", tier: "mobile" }), 400, "validation_failed", "body.user_id");
    await expectProblem(await create({ tier: "mobile" }), 400, "validation_failed", "body.user_id");
    await expectProblem(await create({ user_id: "user_1" }), 400, "validation_failed", "body.tier");
  });
});
