/**
 * The agent tools over HTTP (POST /v1/tools/<name>, GET /v1/tools): each tool with the seed's
 * exact example input against the emulator, the manifest's JSON Schemas, and bad input as a
 * problem naming the field. process_webhook and manage_dunning_process, which need a failed
 * payment, are in tools-dunning.test.ts.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { findTool, TOOLS } from "../../worker/src/tools/registry";
import { call, count, makeKey } from "./helpers";
import { completeCheckout, db, deliverAll, stripe, subscriber } from "./stripe-helpers";
import { subscriptions } from "../../worker/src/db/schema";
import { eq } from "drizzle-orm";

const keys = { admin: "", service: "", analyst: "" };
beforeAll(async () => {
  for (const role of ["admin", "service", "analyst"] as const) keys[role] = (await makeKey(role, { name: `tools-${role}` })).key;
});

/** Runs a tool over HTTP; `raw` sends the body text as it is (to keep `49.00`). */
async function tool(name: string, input: unknown, key = keys.admin, raw?: string) {
  const res = await call("POST", `/v1/tools/${name}`, raw === undefined ? { key, body: input } : { key, rawBody: raw, headers: { "content-type": "application/json" } });
  const body = await res.json<Record<string, any>>();
  return { status: res.status, type: res.headers.get("content-type"), body };
}

/** The answer, checked against the tool's own output contract. */
async function ok(name: string, input: unknown, key = keys.admin) {
  const r = await tool(name, input, key);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  expect(findTool(name)!.output.safeParse(r.body).success).toBe(true);
  return r.body;
}

const fields = (body: Record<string, any>) => (body.errors as { field: string }[]).map((e) => e.field);

describe("GET /v1/tools", () => {
  it("lists the tools with JSON Schemas generated from their zod contracts, and which of them this key may run", async () => {
    const res = await call("GET", "/v1/tools", { key: keys.analyst });
    expect(res.status).toBe(200);
    const { tools } = await res.json<{ tools: Record<string, any>[] }>();
    expect(tools.map((t) => t.name)).toEqual([
      "create_subscription",
      "process_webhook",
      "enforce_tier_access",
      "generate_revenue_report",
      "manage_dunning_process",
      "process_refund",
      "dispute_summary",
      "manage_seats",
    ]);
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    expect(Object.fromEntries(tools.map((t) => [t.name, t.allowed]))).toEqual({
      create_subscription: false,
      process_webhook: false,
      enforce_tier_access: false,
      generate_revenue_report: true,
      manage_dunning_process: false,
      process_refund: false,
      dispute_summary: false,
      manage_seats: false,
    });
    // Two forms, a user's and an organization's, as one object: a union at the top is refused by model APIs.
    expect(byName.create_subscription.input_schema).toMatchObject({
      type: "object",
      properties: {
        tier: { enum: ["local", "mobile"] },
        billing_cycle: { enum: ["monthly", "annual", "two_year", "three_year"], default: "monthly" },
        organization: { type: "object", properties: { seats: { type: "integer", minimum: 1 } } },
      },
      if: { required: ["organization"] },
      then: { required: ["organization"] },
      else: { required: ["user_id", "tier"] },
    });
    for (const t of tools) for (const union of ["anyOf", "oneOf", "allOf"]) expect(t.input_schema, `${t.name}: ${union} at the top`).not.toHaveProperty(union);
    expect(byName.enforce_tier_access.input_schema.properties.feature.enum).toContain("nationwide_job_search");
    expect(byName.manage_dunning_process.examples).toEqual([{ customer_id: "cus_123", failure_count: 2, amount: 49 }]);
    expect(byName.generate_revenue_report.output_schema.properties).toHaveProperty("rows");
    for (const t of tools) expect(t.path).toBe(`/v1/tools/${t.name}`);
    const admin = await (await call("GET", "/v1/tools", { key: keys.admin })).json<{ tools: { allowed: boolean }[] }>();
    expect(admin.tools.every((t) => t.allowed)).toBe(true);
  });

  it("gives every tool an example that its own input schema accepts", () => {
    for (const t of TOOLS) for (const e of t.examples) expect(t.input.safeParse(e).success, t.name).toBe(true);
  });
});

describe("create_subscription", () => {
  it("with the seed's input returns a Checkout URL with the mobile tier's 14-day trial, and the session in Stripe says so", async () => {
    const out = await ok("create_subscription", { user_id: "user_123", tier: "mobile", billing_cycle: "monthly" });
    expect(out).toMatchObject({ outcome: "checkout_created", user_id: "user_123", tier: "mobile", billing_cycle: "monthly", trial_days: 14, price: { amount: 4900, currency: "usd" } });
    expect(out.checkout_url).toMatch(/^https?:\/\//);
    const session = await stripe().checkout.sessions.retrieve(out.session_id);
    expect(session.metadata).toMatchObject({ user_id: "user_123", tier: "mobile" });
    expect(session).toMatchObject({ mode: "subscription", client_reference_id: "user_123", status: "open" });
  });

  it("returns the existing subscription, and creates no session, for a user who already has one", async () => {
    const { userId, customer, sub } = await subscriber({ lookupKey: "local_monthly" });
    await deliverAll({ customer: customer.id, sub: sub.id });
    const sessionsBefore = (await stripe().checkout.sessions.list({ customer: customer.id, limit: 100 })).data.length;
    const out = await ok("create_subscription", { user_id: userId, tier: "mobile", billing_cycle: "monthly" });
    expect(out).toMatchObject({
      outcome: "existing_subscription",
      user_id: userId,
      subscription: { subscription_id: sub.id, tier: "local", billing_cycle: "monthly", status: "active", cancel_at_period_end: false },
    });
    // The same presenter as GET /v1/subscriptions/{user_id}: its fields, times as RFC 3339.
    const view = await (await call("GET", `/v1/subscriptions/${userId}`, { key: keys.admin })).json<Record<string, unknown>>();
    expect(out.subscription).toEqual(Object.fromEntries(Object.keys(out.subscription).map((k) => [k, view[k]])));
    expect(out.subscription.current_period_end).toBe(new Date(sub.items.data[0]!.current_period_end * 1000).toISOString());
    expect((await stripe().checkout.sessions.list({ customer: customer.id, limit: 100 })).data.length).toBe(sessionsBefore);
  });

  it("finds the subscription in Stripe when the webhook has not reached the mirror yet", async () => {
    const userId = `user_tools_lag_${Date.now().toString(36)}`;
    const first = await ok("create_subscription", { user_id: userId, tier: "local", billing_cycle: "annual" });
    expect(first).toMatchObject({ outcome: "checkout_created", trial_days: 7, price: { amount: 29000 } });
    const done = await completeCheckout(first.session_id);
    // The trial the tool announced is the one Stripe gave the subscription.
    const sub = await stripe().subscriptions.retrieve(done.subscription as string);
    expect(sub.trial_end! - sub.trial_start!).toBe(7 * 86_400);
    expect(await db().select().from(subscriptions).where(eq(subscriptions.userId, userId)).all()).toEqual([]);
    const again = await ok("create_subscription", { user_id: userId, tier: "local", billing_cycle: "annual" });
    expect(again).toMatchObject({ outcome: "existing_subscription", subscription: { tier: "local", billing_cycle: "annual", status: "trialing" } });
  });
});

describe("create_subscription with a multi-year cycle", () => {
  it("opens a three-year checkout at the three-year price, and names that cycle from Stripe before the mirror has the subscription", async () => {
    const userId = `user_tools_3y_${Date.now().toString(36)}`;
    const first = await ok("create_subscription", { user_id: userId, tier: "mobile", billing_cycle: "three_year" });
    expect(first).toMatchObject({ outcome: "checkout_created", billing_cycle: "three_year", trial_days: 14, price: { amount: 122_500, currency: "usd" } });
    const done = await completeCheckout(first.session_id);
    const price = (await stripe().subscriptions.retrieve(done.subscription as string)).items.data[0]!.price;
    expect([price.lookup_key, price.recurring?.interval_count]).toEqual(["mobile_three_year", 3]);
    const again = await ok("create_subscription", { user_id: userId, tier: "mobile", billing_cycle: "three_year" });
    expect(again).toMatchObject({ outcome: "existing_subscription", subscription: { tier: "mobile", billing_cycle: "three_year", status: "trialing" } });
  });
});

describe("create_subscription return URLs", () => {
  it("refuses a success_url or cancel_url on another origin as POST /v1/checkout does, also for a user who already subscribes", async () => {
    const { userId, customer, sub } = await subscriber({ lookupKey: "local_monthly" });
    await deliverAll({ customer: customer.id, sub: sub.id });
    for (const [user, field] of [
      [`user_tools_url_${Date.now().toString(36)}`, "success_url"],
      [userId, "cancel_url"],
    ] as const) {
      const r = await tool("create_subscription", { user_id: user, tier: "mobile", [field]: "https://evil.test/billing" });
      expect(r.status).toBe(400);
      expect(r.type).toBe("application/problem+json");
      expect(fields(r.body)).toEqual([`body.${field}`]);
    }
  });
});

describe("enforce_tier_access", () => {
  it("with the seed's input for a user with nothing stored: denied, with the Mobile upgrade prompt, and the claimed tier contradicted", async () => {
    const out = await ok("enforce_tier_access", { user_id: "user_123", feature: "nationwide_job_search", current_tier: "mobile" }, keys.service);
    expect(out).toMatchObject({
      allowed: false,
      reason: "no_subscription",
      tier_mismatch: true,
      stored: { tier: null, status: "none" },
      upgrade: { tier: "mobile", price: { amount: 4900, currency: "usd", billing_cycle: "monthly" } },
    });
    expect(out.upgrade_prompt).toMatch(/Mobile \(\$49\/month\)/);
    expect(out.mismatch).toMatch(/Mobile tier.*no subscription/);
  });

  it("answers from the stored tier, not the claimed one: a local subscriber claimed as mobile is denied nationwide search, and one claimed as local is not a mismatch", async () => {
    const { userId, customer, sub } = await subscriber({ lookupKey: "local_monthly" });
    await deliverAll({ customer: customer.id, sub: sub.id });
    const claimedMobile = await ok("enforce_tier_access", { user_id: userId, feature: "nationwide_job_search", current_tier: "mobile" });
    expect(claimedMobile).toMatchObject({ allowed: false, reason: "not_in_tier", tier_mismatch: true, stored: { tier: "local", status: "active" }, upgrade: { tier: "mobile" } });
    const local = await ok("enforce_tier_access", { user_id: userId, feature: "local_job_search", current_tier: "local" }, keys.service);
    expect(local).toMatchObject({ allowed: true, tier_mismatch: false, mismatch: null, upgrade_prompt: null });
  });
});

describe("generate_revenue_report", () => {
  it("with the seed's input returns the same report as GET /v1/analytics/report", async () => {
    const out = await ok("generate_revenue_report", { period: "monthly" }, keys.analyst);
    const api = await (await call("GET", "/v1/analytics/report?period=monthly", { key: keys.analyst })).json<Record<string, any>>();
    expect(out.rows).toHaveLength(12);
    expect({ ...out, current: { ...out.current, as_of: null } }).toEqual({ ...api, current: { ...api.current, as_of: null } });
  });

  it("takes the report's options", async () => {
    const out = await ok("generate_revenue_report", { period: "quarterly", from: "2025-01", to: "2025-12", gross_margin: 0.7, currency: "USD" });
    expect(out).toMatchObject({ period: "quarterly", from: "2025-01", to: "2025-12", gross_margin: 0.7, currency: "usd" });
    expect(out.rows.map((r: { period: string }) => r.period)).toEqual(["2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4"]);
  });
});

describe("bad input", () => {
  const cases: [string, string, unknown, string[]][] = [
    ["wrong type", "create_subscription", { user_id: 123, tier: "mobile", billing_cycle: "monthly" }, ["body.user_id"]],
    ["missing field", "create_subscription", { tier: "mobile", billing_cycle: "monthly" }, ["body.user_id"]],
    ["unknown tier", "create_subscription", { user_id: "user_123", tier: "gold", billing_cycle: "monthly" }, ["body.tier"]],
    ["unknown field", "create_subscription", { user_id: "user_123", tier: "mobile", billing_cycle: "monthly", coupon: "x" }, ["body.coupon"]],
    ["unknown feature", "enforce_tier_access", { user_id: "user_123", feature: "teleportation", current_tier: "mobile" }, ["body.feature"]],
    ["unknown current tier", "enforce_tier_access", { user_id: "user_123", feature: "mobile_app", current_tier: "gold" }, ["body.current_tier"]],
    ["missing field", "enforce_tier_access", { user_id: "user_123", feature: "mobile_app" }, ["body.current_tier"]],
    ["unknown period", "generate_revenue_report", { period: "weekly" }, ["body.period"]],
    ["wrong type", "generate_revenue_report", { period: "monthly", gross_margin: "high" }, ["body.gross_margin"]],
    ["from after to", "generate_revenue_report", { period: "monthly", from: "2025-06", to: "2025-01" }, ["body.from"]],
    ["missing type", "process_webhook", { data: { object: { id: "in_123" } } }, ["body.type"]],
    ["wrong type", "manage_dunning_process", { customer_id: "cus_123", failure_count: "two", amount: 49 }, ["body.failure_count"]],
    ["missing field", "manage_dunning_process", { customer_id: "cus_123", failure_count: 2 }, ["body.amount"]],
  ];
  for (const [what, name, input, want] of cases) {
    it(`${name}: ${what} is a 400 problem naming ${want.join(", ")}, and writes nothing`, async () => {
      const before = await count("audit_log");
      const r = await tool(name, input);
      expect(r.status, JSON.stringify(r.body)).toBe(400);
      expect(r.type).toBe("application/problem+json");
      expect(r.body).toMatchObject({ status: 400, code: "validation_failed", type: expect.stringMatching(/validation-failed$/) });
      expect(fields(r.body)).toEqual(want);
      expect(await count("audit_log")).toBe(before);
    });
  }

  it("an unknown tool is a 404 problem", async () => {
    const r = await tool("drop_tables", {});
    expect(r.status).toBe(404);
    expect(r.type).toBe("application/problem+json");
  });
});

describe("roles", () => {
  it("refuses an analyst create_subscription, process_webhook and manage_dunning_process with 403, before reading the input", async () => {
    for (const [name, input] of [
      ["create_subscription", { user_id: "user_123", tier: "mobile", billing_cycle: "monthly" }],
      ["process_webhook", { type: "invoice.payment_failed", data: { object: { id: "in_123", object: "invoice" } } }],
      ["manage_dunning_process", { customer_id: "cus_123", failure_count: 2, amount: 49.0 }],
    ] as const) {
      const r = await tool(name, input, keys.analyst);
      expect(r.status, name).toBe(403);
      expect(r.body).toMatchObject({ code: "forbidden", required_permission: findTool(name)!.permission });
    }
  });

  it("refuses a service key process_webhook (admin only)", async () => {
    const r = await tool("process_webhook", { type: "invoice.payment_failed", data: { object: { id: "in_123", object: "invoice" } } }, keys.service);
    expect(r.status).toBe(403);
  });
});
