import { env } from "cloudflare:test";
import type Stripe from "stripe";
import { describe, expect, it } from "vitest";
import { systemClock } from "../../worker/src/clock";
import { CRONS } from "../../worker/src/cron";
import type { Env } from "../../worker/src/env";
import { deploymentChecks } from "../../worker/src/monitoring";
import { HANDLED_EVENT_TYPES } from "../../worker/src/stripe-sync";
import { pinnedApiVersion } from "../../worker/src/stripe-sync/api-version";
import { services } from "../../worker/src/wiring";
import { call, makeKey } from "./helpers";
import { stripe } from "./stripe-helpers";

const testEnv = env as unknown as Env & Record<string, unknown>;

/** Every secret value the worker was given, and each private signing key's `d`. */
function secretValues(e: Record<string, unknown>): string[] {
  const values = ["STRIPE_SECRET_KEY", "AUDIT_CHECKPOINT_SECRET", "ENTITLEMENTS_SIGNING_KEYS"].map((k) => String(e[k]));
  const secrets = String(e.STRIPE_WEBHOOK_SECRETS).split(",");
  const keys = (JSON.parse(String(e.ENTITLEMENTS_SIGNING_KEYS)) as { keys: { d: string }[] }).keys.map((k) => k.d);
  return [...values, ...secrets, ...keys];
}

const checksOf = (e: Env, origin = "http://doctor-check.test") => deploymentChecks(services(e, systemClock), { env: e, origin, schedules: CRONS });

describe("GET /v1/system/checks", () => {
  it("answers an admin with every check, and refuses the analyst and service roles", async () => {
    const admin = await makeKey("admin");
    const res = await call("GET", "/v1/system/checks", { key: admin.key });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = await res.json<{ checks: { id: string; status: string }[]; migrations: { found: boolean; applied: { name: string }[] } }>();
    const ids = body.checks.map((c) => c.id);
    expect(ids).toEqual(
      expect.arrayContaining([
        "config:stripe",
        "config:webhook",
        "migrations",
        "cron:sweep",
        "cron:dunning",
        "cron:reconcile",
        "stripe_events",
        "webhook_endpoint",
        "catalog_prices",
        "signing_keys",
        "audit_chain",
        "audit_checkpoints",
        "email_transport",
        "dunning_retries",
      ]),
    );
    // applyD1Migrations records every file in d1_migrations, as wrangler does.
    expect(body.migrations.found).toBe(true);
    expect(body.migrations.applied.map((m) => m.name)).toContain("0000_foundation.sql");
    expect(body.checks.find((c) => c.id === "catalog_prices")?.status).toBe("pass");
    for (const role of ["analyst", "service"] as const) {
      const refused = await call("GET", "/v1/system/checks", { key: (await makeKey(role)).key });
      expect(refused.status, role).toBe(403);
    }
  });

  it("reports every setting by name and state, never its value", async () => {
    const admin = await makeKey("admin");
    const text = await (await call("GET", "/v1/system/checks", { key: admin.key })).text();
    for (const value of secretValues(testEnv)) expect(text.includes(value), "a secret's value is in the answer").toBe(false);
    const body = JSON.parse(text) as { variables: { name: string; status: string }[] };
    expect(body.variables.find((v) => v.name === "STRIPE_WEBHOOK_SECRETS")?.status).toBe("ok");
    expect(body.variables.find((v) => v.name === "ENTITLEMENTS_SIGNING_KEYS")?.status).toBe("ok");
  });
});

describe("deploymentChecks", () => {
  it("names each missing or invalid variable and what is wrong, without quoting the value", async () => {
    const broken = {
      ...testEnv,
      STRIPE_WEBHOOK_SECRETS: "hunter2-not-a-webhook-secret",
      ENTITLEMENTS_SIGNING_KEYS: undefined,
      EMAIL_TRANSPORT: "resend",
      AUDIT_CHECKPOINT_SECRET: "short-secret-value",
      ENVIRONMENT: "staging-env-value",
      // A Saturday: the payday policy refuses it when it is built, not when the env is parsed.
      DUNNING_PAYDAY_ANCHOR: "2026-01-03",
    } as unknown as Env;
    const report = await checksOf(broken);
    const text = JSON.stringify(report);
    expect(text).not.toContain("hunter2-not-a-webhook-secret");
    expect(text).not.toContain("short-secret-value");
    expect(text).not.toContain("staging-env-value");
    expect(report.environment).toBe("invalid");
    const variable = (name: string) => report.variables.find((v) => v.name === name);
    expect(variable("STRIPE_WEBHOOK_SECRETS")).toMatchObject({ kind: "secret", status: "invalid", problem: "each secret must start with whsec_" });
    expect(variable("ENTITLEMENTS_SIGNING_KEYS")).toMatchObject({ status: "missing", required: true, problem: "is required" });
    expect(variable("RESEND_API_KEY")).toMatchObject({ status: "missing", problem: "is required when EMAIL_TRANSPORT is resend" });
    expect(variable("AUDIT_CHECKPOINT_SECRET")).toMatchObject({ status: "invalid" });
    expect(variable("SMTP_HOST")).toMatchObject({ status: "unset", required: false });
    const check = (id: string) => report.checks.find((c) => c.id === id);
    expect(check("config:webhook")).toMatchObject({ status: "fail", fix: expect.stringContaining("npx wrangler secret put STRIPE_WEBHOOK_SECRETS") });
    expect(check("config:signing")?.fix).toBe("npm run keys:generate > keys.json && npx wrangler secret put ENTITLEMENTS_SIGNING_KEYS < keys.json && rm keys.json");
    expect(check("config:email")?.detail).toContain("RESEND_API_KEY is missing");
    expect(check("config:core")?.detail).toContain("ENVIRONMENT is invalid");
    expect(check("config:dunning")).toMatchObject({ status: "fail", detail: expect.stringContaining("DUNNING_") });
    expect(check("dunning_retries")?.status).toBe("fail");
    expect(check("signing_keys")?.status).toBe("fail");
    expect(check("audit_chain")?.status).toBe("fail");
    expect(report.status).toBe("fail");
  });

  it("fails a production worker whose emails go nowhere, and passes one whose transport sends", async () => {
    const log = await checksOf({ ...testEnv, ENVIRONMENT: "production" } as unknown as Env);
    expect(log.checks.find((c) => c.id === "email_transport")).toMatchObject({ status: "fail", detail: expect.stringContaining("EMAIL_TRANSPORT is log in production") });
    const smtp = await checksOf({ ...testEnv, ENVIRONMENT: "production", EMAIL_TRANSPORT: "smtp", SMTP_HOST: "smtp.example.test", SMTP_USER: "u", SMTP_PASSWORD: "p" } as unknown as Env);
    expect(smtp.checks.find((c) => c.id === "email_transport")?.status).toBe("pass");
  });

  it("finds the webhook endpoint for the worker's own URL and lists the handled event types it lacks", async () => {
    const origin = `http://doctor-${crypto.randomUUID().slice(0, 8)}.test`;
    const none = await checksOf(testEnv, origin);
    expect(none.webhook_endpoint).toMatchObject({ url: `${origin}/webhooks/stripe`, found: false });
    expect(none.checks.find((c) => c.id === "webhook_endpoint")).toMatchObject({ status: "fail", fix: `npm run stripe:setup -- --webhook-url ${origin}/webhooks/stripe` });

    const events = HANDLED_EVENT_TYPES.filter((t) => t !== "customer.subscription.deleted" && t !== "invoice.paid");
    const endpoint = await stripe().webhookEndpoints.create({
      url: `${origin}/webhooks/stripe`,
      enabled_events: [...events],
      api_version: pinnedApiVersion({}) as Stripe.WebhookEndpointCreateParams.ApiVersion,
    });
    try {
      // Disabled, so the shared emulator sends nothing to a host that does not exist.
      await stripe().webhookEndpoints.update(endpoint.id, { disabled: true });
      const report = await checksOf(testEnv, origin);
      expect(report.webhook_endpoint).toMatchObject({ found: true, id: endpoint.id, status: "disabled", missing_events: ["customer.subscription.deleted", "invoice.paid"] });
      expect(report.checks.find((c) => c.id === "webhook_endpoint")).toMatchObject({ status: "fail", detail: `${endpoint.id} is disabled: Stripe sends it nothing.` });
      expect(report.checks.find((c) => c.id === "webhook_events")).toMatchObject({ status: "fail", detail: expect.stringContaining("customer.subscription.deleted, invoice.paid") });
      expect(report.checks.find((c) => c.id === "webhook_api_version")?.status).toBe("pass");
    } finally {
      await stripe().webhookEndpoints.del(endpoint.id);
    }
  });
});
