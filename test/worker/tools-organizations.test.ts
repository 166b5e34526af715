/**
 * manage_seats (POST /v1/tools/manage_seats and MCP): the seats of an organization given and
 * taken back as PUT/DELETE /v1/organizations/{org_id}/members/{user_id} do, with the same
 * refusals; the holder's access follows at once.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { call, makeKey } from "./helpers";
import { expectProblem } from "./lifecycle-helpers";
import { buyOrganization } from "./organization-term-helpers";

let service: string;
beforeAll(async () => {
  service = (await makeKey("service")).key;
});

const seats = (body: unknown) => call("POST", "/v1/tools/manage_seats", { key: service, body });
const access = async (userId: string) => (await call("GET", `/v1/entitlements/${userId}`, { key: service })).json<{ tier: string | null; org_id: string | null }>();

describe("manage_seats", () => {
  it("assigns seats until every one is taken (then seats_exhausted, as the route), answers the same seat twice, and releases one at once", async () => {
    const { orgId } = await buyOrganization(service, { seats: 2 });
    const first = await seats({ org_id: orgId, user_id: `${orgId}_a`, action: "assign" });
    expect(first.status, await first.clone().text()).toBe(200);
    expect(await first.json()).toMatchObject({ outcome: "assigned", org_id: orgId, user_id: `${orgId}_a`, seats: 2, seats_assigned: 1, assigned_at: expect.any(String) });
    expect(await access(`${orgId}_a`)).toMatchObject({ tier: "agency", org_id: orgId });
    expect(await (await seats({ org_id: orgId, user_id: `${orgId}_a`, action: "assign" })).json()).toMatchObject({ outcome: "assigned", seats_assigned: 1 });
    expect((await seats({ org_id: orgId, user_id: `${orgId}_b`, action: "assign" })).status).toBe(200);

    const viaTool = await seats({ org_id: orgId, user_id: `${orgId}_c`, action: "assign" });
    const viaRoute = await call("PUT", `/v1/organizations/${orgId}/members/${orgId}_c`, { key: service });
    expect([viaTool.status, viaRoute.status]).toEqual([409, 409]);
    expect((await viaTool.json<{ code: string }>()).code).toBe("seats_exhausted");

    const released = await seats({ org_id: orgId, user_id: `${orgId}_a`, action: "release" });
    expect(await released.json()).toMatchObject({ outcome: "released", assigned_at: null, seats_assigned: 1 });
    expect(await access(`${orgId}_a`)).toMatchObject({ tier: null, org_id: null });
    await expectProblem(await seats({ org_id: orgId, user_id: `${orgId}_a`, action: "release" }), 404, "not_found");
  });

  it("refuses what the route refuses: an unknown organization, a malformed id, an unknown action", async () => {
    await expectProblem(await seats({ org_id: "org_nobody", user_id: "user_1", action: "assign" }), 404, "not_found");
    await expectProblem(await seats({ org_id: "org bad", user_id: "user_1", action: "assign" }), 400, "validation_failed", "body.org_id");
    await expectProblem(await seats({ org_id: "org_x", user_id: "user_1", action: "give" }), 400, "validation_failed", "body.action");
  });
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
