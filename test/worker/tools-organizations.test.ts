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
