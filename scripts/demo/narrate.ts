/**
 * npm run demo: one subscriber's whole life, told step by step against the system `npm start`
 * runs (worker :8787, emulator :12111, demo app :3000), the subscriber on a Stripe test clock so
 * months pass in seconds: trial, conversion, an upgrade with its proration, a failed renewal,
 * recovery, the retention offer, cancellation. Each step prints what the API says, what the
 * signed token says, and what the demo app decides for a gated page.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import Stripe from "stripe";
import { ROOT } from "../d1.ts";

const WORKER = process.env.BILLING_URL ?? "http://127.0.0.1:8787";
const EMULATOR = process.env.STRIPE_API_BASE ?? "http://127.0.0.1:12111";
const APP = process.env.JOB_BOARD_ORIGIN ?? "http://127.0.0.1:3000";
const DAY = 86_400;

const dollars = (cents: number) => `$${(cents / 100).toFixed(2)}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function readKey(file: string): Promise<string> {
  const key = (await readFile(path.join(ROOT, ".wrangler", file), "utf8").catch(() => "")).trim();
  if (!key) throw new Error(`No ${file} in .wrangler/: start the system first with npm start.`);
  return key;
}

async function main() {
  const serviceKey = await readKey("local-service-key");
  const vars = new Map((await readFile(path.join(ROOT, ".dev.vars"), "utf8").catch(() => "")).split("\n").map((l) => l.split("=", 2) as [string, string]));
  const secretKey = vars.get("STRIPE_SECRET_KEY") ?? "sk_test_emulator";
  const emulatorUrl = new URL(EMULATOR);
  const stripe = new Stripe(secretKey, { httpClient: Stripe.createFetchHttpClient(), host: emulatorUrl.hostname, port: emulatorUrl.port, protocol: "http" });

  const api = async <T>(method: string, p: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${WORKER}${p}`, {
      method,
      headers: { authorization: `Bearer ${serviceKey}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${p}: HTTP ${res.status} ${text}`);
    return JSON.parse(text) as T;
  };
  const sweep = () =>
    fetch(`${WORKER}/__scheduled?cron=*+*+*+*+*`).then(
      (r) => r.body?.cancel(),
      () => undefined,
    );

  const name = `story${Date.now().toString(36)}`;
  const userId = `demo_${name}`;
  // The demo app's session, as a browser would hold it.
  const signin = await fetch(`${APP}/signin`, {
    method: "POST",
    redirect: "manual",
    headers: { origin: APP, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ name, next: "/" }).toString(),
  });
  const cookie = (signin.headers.get("set-cookie") ?? "").split(";")[0]!;
  if (!cookie) throw new Error(`The demo app at ${APP} did not sign in ${name}: is npm start running?`);

  const clock = await stripe.testHelpers.testClocks.create({ frozen_time: Math.floor(Date.now() / 1000), name: userId });
  let clockTime = clock.frozen_time;
  const advance = async (days: number) => {
    clockTime += Math.round(days * DAY);
    await stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: clockTime });
    while ((await stripe.testHelpers.testClocks.retrieve(clock.id)).status !== "ready") await sleep(50);
  };

  /** Waits until the worker has processed what Stripe sent (the mirror says `until`). */
  const settle = async (until: (v: View) => boolean) => {
    for (let i = 0; i < 100; i++) {
      await sweep();
      const v = await api<View>("GET", `/v1/subscriptions/${userId}`).catch(() => null);
      if (v && until(v)) return v;
      await sleep(200);
    }
    throw new Error("the worker did not catch up within 20 s");
  };

  const tell = async (title: string, v: View | null) => {
    const { token } = await api<{ token: string }>("POST", "/v1/entitlements/token", { user_id: userId });
    const claims = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()) as { tier: string | null; status: string; features: string[] };
    // The app decides from its own cached token; the changes feed tells it within a poll interval.
    const expected = claims.features.includes("nationwide_job_search") ? 200 : 403;
    const asked = Date.now();
    let page = await fetch(`${APP}/jobs/nationwide`, { headers: { cookie }, redirect: "manual" });
    while (page.status !== expected && Date.now() - asked < 30_000) {
      await page.body?.cancel();
      await sleep(250);
      page = await fetch(`${APP}/jobs/nationwide`, { headers: { cookie }, redirect: "manual" });
    }
    const lag = Date.now() - asked;
    const html = await page.text();
    const said =
      /<main>[\s\S]*?<(?:p|div)[^>]*>([\s\S]*?)<\/(?:p|div)>/
        .exec(html)?.[1]
        ?.replace(/<[^>]+>/g, "")
        .replace(/\s+/g, " ")
        .trim() ?? "";
    const date = new Date(clockTime * 1000).toISOString().slice(0, 10);
    console.log(`\n== ${title}  (test clock: ${date})`);
    if (v)
      console.log(
        `   API:      ${v.tier} ${v.billing_cycle}, ${v.status}${v.cancel_at ? `, ends ${v.cancel_at.slice(0, 10)}` : ""}${v.next_invoice ? `, next invoice ${dollars(v.next_invoice.amount_due)} (tax ${dollars(v.next_invoice.tax)})` : ""}${v.pending_change ? `, pending change to ${v.pending_change.tier}` : ""}`,
      );
    console.log(`   Token:    status ${claims.status}, tier ${claims.tier ?? "none"}, features ${claims.features.join(", ") || "none"}`);
    console.log(`   Demo app: nationwide search → HTTP ${page.status}${said ? ` "${said.slice(0, 140)}"` : ""}${lag > 300 ? ` (its decision caught up after ${(lag / 1000).toFixed(1)} s)` : ""}`);
  };

  console.log(`A subscriber's year, told by the running system. User ${userId}, Stripe test clock ${clock.id}.`);

  const session = await api<{ session_id: string; url: string; trial_days: number }>("POST", "/v1/checkout", { user_id: userId, email: `${userId}@demo.example`, tier: "local", test_clock: clock.id });
  console.log(`\nPOST /v1/checkout → a ${session.trial_days}-day trial; the user would pay on ${session.url}`);
  const paid = await fetch(`${EMULATOR}/v1/test_helpers/checkout/sessions/${session.session_id}/complete`, {
    method: "POST",
    headers: { authorization: `Bearer ${secretKey}`, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ payment_method: "pm_card_visa", name: "Story Teller", "address[country]": "US", "address[state]": "CA", "address[postal_code]": "94107" }).toString(),
  });
  if (!paid.ok) throw new Error(`completing checkout: HTTP ${paid.status} ${await paid.text()}`);
  const { customer, subscription } = await stripe.checkout.sessions.retrieve(session.session_id);
  await tell("1. Trial started (Local, 7 days)", await settle((v) => v.status === "trialing"));

  await advance(7.1);
  await tell("2. Trial converted: the first invoice is paid", await settle((v) => v.status === "active"));

  await advance(10);
  const preview = await api<{ amount_due_now: number; proration_date: string; lines: { description: string; amount: number }[] }>("POST", `/v1/subscriptions/${userId}/change/preview`, {
    tier: "mobile",
  });
  console.log(`\n   Upgrade preview (Stripe's own): due now ${dollars(preview.amount_due_now)}`);
  for (const l of preview.lines) console.log(`     ${l.amount < 0 ? "-" : " "}${dollars(Math.abs(l.amount))}  ${l.description}`);
  const upgraded = await api<View>("POST", `/v1/subscriptions/${userId}/change`, { tier: "mobile", expected_amount_due_now: preview.amount_due_now, proration_date: preview.proration_date });
  await tell("3. Upgraded to Mobile on day 10, charged the proration at once", upgraded);

  const declining = await stripe.paymentMethods.attach("pm_card_chargeCustomerFail", { customer: customer as string });
  await stripe.customers.update(customer as string, { invoice_settings: { default_payment_method: declining.id } });
  await stripe.subscriptions.update(subscription as string, { default_payment_method: declining.id });
  await advance(21);
  await tell("4. The renewal's payment failed: past due, access kept during the grace", await settle((v) => v.status === "past_due"));

  const working = await stripe.paymentMethods.attach("pm_card_visa", { customer: customer as string });
  await stripe.customers.update(customer as string, { invoice_settings: { default_payment_method: working.id } });
  await stripe.subscriptions.update(subscription as string, { default_payment_method: working.id });
  await advance(5);
  for (const inv of (await stripe.invoices.list({ customer: customer as string, status: "open" })).data) await stripe.invoices.pay(inv.id);
  await tell("5. A new card, the invoice paid: recovered", await settle((v) => v.status === "active"));

  const offer = await api<{ canceled: boolean; offer?: { description: string } }>("POST", `/v1/subscriptions/${userId}/cancel`, { reason: "too_expensive", feedback: "Money is tight" });
  console.log(`\n== 6. Asked to cancel: the retention offer first\n   API:      ${offer.offer?.description ?? JSON.stringify(offer)}`);
  const canceled = await api<{ canceled: boolean; cancel_at: string }>("POST", `/v1/subscriptions/${userId}/cancel`, { reason: "too_expensive" });
  await tell(`7. Declined the offer: canceled at the period end (${canceled.cancel_at.slice(0, 10)}), access until then`, await settle((v) => v.cancel_at_period_end));

  await advance(31);
  await tell("8. The period ended: the subscription is canceled", await settle((v) => v.status === "canceled"));
  console.log(`\nEvery step is in the audit log: curl -H "Authorization: Bearer <admin key>" "${WORKER}/v1/audit?subject_id=${userId}"`);
}

interface View {
  tier: string | null;
  billing_cycle: string | null;
  status: string;
  /** RFC 3339, like every instant of the API. */
  cancel_at: string | null;
  cancel_at_period_end: boolean;
  next_invoice: { amount_due: number; tax: number } | null;
  pending_change: { tier: string | null } | null;
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
