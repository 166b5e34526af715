/**
 * Issue 24's doctor against the system `npm start` runs: the worker in workerd (ENVIRONMENT
 * development, D1 migrated and recorded in d1_migrations as wrangler does, the crons run over
 * HTTP), the Stripe emulator with the catalog's prices and a webhook endpoint for the worker's
 * URL subscribed to the event types the worker handles. `npm run doctor` runs as a user runs it,
 * a process with BILLING_ADMIN_KEY: it passes on that system, and fails naming the cause and
 * its fix with an event type removed from the endpoint, with the crons stopped, with a secret
 * unset and with a migration not applied. Bad input exits 2 with one line.
 */
import { spawn } from "node:child_process";
import { createServer, type AddressInfo } from "node:net";
import path from "node:path";
import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmulator, type Emulator } from "../../packages/stripe-emulator/src/index.ts";
import { seedCatalog } from "../../scripts/catalog-prices.ts";
import { CRONS } from "../../worker/src/cron.ts";
import { pinnedApiVersion } from "../../worker/src/stripe-sync/api-version.ts";
import { HANDLED_EVENT_TYPES } from "../../worker/src/stripe-sync/handled-events.ts";
import { readMigrations, ROOT, startWorker, type WorkerHarness } from "../harness/worker.ts";

let emulator: Emulator;
let stripe: Stripe;
let worker: WorkerHarness;
let endpointId: string;
const extra: WorkerHarness[] = [];

/** A worker as npm start configures it (.dev.vars: ENVIRONMENT=development, the emulator's key). */
function startLocalWorker(bindings: Record<string, string | undefined>, opts: { unappliedMigrations?: string[] } = {}) {
  const all = { ENVIRONMENT: "development", STRIPE_API_BASE: emulator.url, STRIPE_SECRET_KEY: emulator.secretKey, ...bindings };
  return startWorker({ bindings: Object.fromEntries(Object.entries(all).filter((e): e is [string, string] => e[1] !== undefined)), ...opts });
}

async function runCron(w: WorkerHarness, name: keyof typeof CRONS) {
  const res = await fetch(`${w.url}/cdn-cgi/local/scheduled?cron=${encodeURIComponent(CRONS[name])}`);
  expect(res.status, await res.text()).toBe(200);
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `npm run doctor -- ...args` as a process, with only the key it is given (null: none). */
function doctor(args: string[], key: string | null = worker.adminKey): Promise<Run> {
  const env = { ...process.env };
  delete env.BILLING_ADMIN_KEY;
  delete env.BILLING_URL;
  if (key !== null) env.BILLING_ADMIN_KEY = key;
  return new Promise((resolve, reject) => {
    // What `tsx scripts/doctor.ts` runs, without the tsx CLI's own Node process in front of it: one process start per run, not two.
    const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "scripts", "doctor.ts"), ...args], { cwd: ROOT, env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** The ✗ lines, each with the fix line printed under it. */
function failures(out: string): string[] {
  const lines = out.split("\n");
  return lines.flatMap((l, i) => (l.startsWith("✗") ? [`${l}\n${lines[i + 1]?.startsWith("    fix: ") ? lines[i + 1] : ""}`] : []));
}

beforeAll(async () => {
  emulator = await startEmulator({ port: 0, secretKey: "sk_test_doctor" });
  stripe = new Stripe(emulator.secretKey, { httpClient: Stripe.createFetchHttpClient(), host: "127.0.0.1", port: emulator.port, protocol: "http" });
  await seedCatalog(stripe);
  // What `npm run stripe:setup` makes: an endpoint with exactly the handled event types, in the pinned version.
  const endpoint = await stripe.webhookEndpoints.create({
    url: "http://127.0.0.1:1/placeholder",
    enabled_events: [...HANDLED_EVENT_TYPES],
    api_version: pinnedApiVersion({}) as Stripe.WebhookEndpointCreateParams.ApiVersion,
  });
  endpointId = endpoint.id;
  worker = await startLocalWorker({ STRIPE_WEBHOOK_SECRETS: endpoint.secret! });
  await stripe.webhookEndpoints.update(endpoint.id, { url: `${worker.url}/webhooks/stripe` });
  // An event delivered through the endpoint, and every cron run once, as a running system has.
  await stripe.customers.create({ email: "doctor@example.test", metadata: { user_id: "user_doctor" } });
  await emulator.idle();
  await worker.drainQueue();
  for (const name of Object.keys(CRONS) as (keyof typeof CRONS)[]) await runCron(worker, name);
}, 180_000);

afterAll(async () => {
  for (const w of extra) await w.dispose();
  await worker?.dispose();
  await emulator?.stop();
});

describe("npm run doctor against the system npm start runs", () => {
  it("passes a healthy system: every line ✓ or ⚠, exit status 0", async () => {
    const run = await doctor(["--url", worker.url]);
    expect(run.stderr).toBe("");
    expect(failures(run.stdout), run.stdout).toEqual([]);
    expect(run.code, run.stdout).toBe(0);
    expect(run.stdout).toContain("✓ /health: ok");
    expect(run.stdout).toMatch(new RegExp(`✓ D1 migrations match migrations/: All ${readMigrations().length} applied`));
    expect(run.stdout).toMatch(/✓ Stripe webhook endpoint for .*\/webhooks\/stripe: we_\w+ exists and is enabled/);
    expect(run.stdout).toContain(`✓ The endpoint sends every event type the worker handles: All ${HANDLED_EVENT_TYPES.length} handled event types are enabled.`);
    expect(run.stdout).toContain(`✓ The endpoint's API version is the pinned one: ${Stripe.API_VERSION}.`);
    for (const name of Object.keys(CRONS)) expect(run.stdout).toMatch(new RegExp(`✓ The ${name} cron \\(.*\\) runs: It last started`));
    expect(run.stdout).toMatch(/✓ Stripe events arrive: The last webhook event was received at /);
    expect(run.stdout).toMatch(/✓ Every catalog price resolves by lookup key/);
    expect(run.stdout).toMatch(/✓ The JWKS is served/);
    expect(run.stdout).toMatch(/✓ The audit chain verifies/);
    expect(run.stdout).toMatch(/✓ Audit checkpoints are signed/);
    expect(run.stdout).toMatch(/✓ The email transport fits the environment: EMAIL_TRANSPORT is log in development/);
  });

  it("answers the same checklist as JSON with --json", async () => {
    const run = await doctor(["--url", worker.url, "--json"]);
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout) as { status: string; checks: { id: string; status: string }[]; report: { environment: string } };
    expect(out.status).not.toBe("fail");
    expect(out.report.environment).toBe("development");
    expect(out.checks.map((c) => c.id)).toEqual(expect.arrayContaining(["health", "migrations", "webhook_events", "jwks", "cron:sweep", "config:stripe"]));
    expect(out.checks.filter((c) => c.status === "fail")).toEqual([]);
  });

  it("fails naming the event type removed from the endpoint, and says to run stripe:setup", async () => {
    const without = HANDLED_EVENT_TYPES.filter((t) => t !== "invoice.payment_failed");
    await stripe.webhookEndpoints.update(endpointId, { enabled_events: [...without] });
    try {
      const run = await doctor(["--url", worker.url]);
      expect(run.code, run.stdout).toBe(1);
      expect(failures(run.stdout)).toEqual([
        `✗ The endpoint sends every event type the worker handles: 1 handled event type(s) are not enabled, so those changes never reach the worker: invoice.payment_failed.\n    fix: npm run stripe:setup -- --webhook-url ${worker.url}/webhooks/stripe`,
      ]);
    } finally {
      await stripe.webhookEndpoints.update(endpointId, { enabled_events: [...HANDLED_EVENT_TYPES] });
    }
  });

  it("fails naming each cron that has not run within its period, with how to run it", async () => {
    const saved = await worker.db.prepare("select cron, last_started_at from cron_runs").all<{ cron: string; last_started_at: number }>();
    // Stopped two days ago: no cron has started since.
    await worker.db
      .prepare("update cron_runs set last_started_at = last_started_at - ?, last_finished_at = last_finished_at - ?")
      .bind(2 * 86_400_000, 2 * 86_400_000)
      .run();
    try {
      const run = await doctor(["--url", worker.url]);
      expect(run.code, run.stdout).toBe(1);
      const failed = failures(run.stdout);
      for (const name of Object.keys(CRONS) as (keyof typeof CRONS)[]) {
        const line = failed.find((l) => l.startsWith(`✗ The ${name} cron (${CRONS[name]}) runs: It last started 2 days ago; it must start within`));
        expect(line, run.stdout).toBeDefined();
        expect(line).toContain(`fix: npm start runs the crons every minute; run this one now: curl "${worker.url}/__scheduled?cron=`);
      }
      expect(failed.find((l) => l.startsWith("✗ /health: degraded"))).toContain("cron:sweep");
    } finally {
      for (const r of saved.results) await worker.db.prepare("update cron_runs set last_started_at = ? where cron = ?").bind(r.last_started_at, r.cron).run();
    }
  });

  it("fails naming a multi-year price that bills every year instead of every two, and says to run stripe:setup", async () => {
    const right = (await stripe.prices.list({ lookup_keys: ["mobile_two_year"] })).data[0]!;
    // Same amount and interval, interval_count 1: a subscriber would be charged the two-year price every year.
    await stripe.prices.create({
      product: right.product as string,
      currency: "usd",
      unit_amount: right.unit_amount!,
      recurring: { interval: "year" },
      lookup_key: "mobile_two_year",
      transfer_lookup_key: true,
    });
    try {
      const run = await doctor(["--url", worker.url]);
      expect(run.code, run.stdout).toBe(1);
      expect(failures(run.stdout)).toEqual([
        "✗ Every catalog price resolves by lookup key: The price of mobile_two_year differs from the catalog (amount, currency, interval or interval count).\n    fix: npm run stripe:setup",
      ]);
    } finally {
      await stripe.prices.update(right.id, { lookup_key: "mobile_two_year", transfer_lookup_key: true });
    }
    expect(failures((await doctor(["--url", worker.url])).stdout)).toEqual([]);
  });

  it("fails naming a secret that is unset, and says where to set it", async () => {
    const bare = await startLocalWorker({});
    extra.push(bare);
    const run = await doctor(["--url", bare.url], bare.adminKey);
    expect(run.code, run.stdout).toBe(1);
    expect(failures(run.stdout)).toContain(
      "✗ Stripe webhook secrets and the events queue: STRIPE_WEBHOOK_SECRETS is missing: is required.\n    fix: set STRIPE_WEBHOOK_SECRETS in .dev.vars (see .dev.vars.example), then restart npm start",
    );
  });

  it("fails naming a migration D1 has not applied, and says how to apply it", async () => {
    const last = readMigrations().at(-1)!.name;
    const behind = await startLocalWorker({}, { unappliedMigrations: [last] });
    extra.push(behind);
    const run = await doctor(["--url", behind.url], behind.adminKey);
    expect(run.code, run.stdout).toBe(1);
    expect(failures(run.stdout)).toContain(`✗ D1 migrations match migrations/: 1 of ${readMigrations().length} not applied: ${last}.\n    fix: npm run db:migrate`);
  });
});

describe("npm run doctor with bad input", () => {
  const oneLine = (run: Run, pattern: RegExp) => {
    expect(run.code, run.stdout + run.stderr).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(run.stderr).toMatch(pattern);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  };

  it("exits 2 with one line without an admin key", async () => {
    oneLine(await doctor(["--url", worker.url], null), /^doctor: set BILLING_ADMIN_KEY/);
  });

  it("exits 2 with one line for a malformed URL", async () => {
    oneLine(await doctor(["--url", "billing example com"]), /^doctor: --url is not a URL/);
    oneLine(await doctor(["--url", "ftp://billing.example.com"]), /^doctor: --url must be http\(s\)/);
    // It would send the admin key in clear text across the network.
    oneLine(await doctor(["--url", "http://billing.example.com"]), /^doctor: --url must use https/);
    oneLine(await doctor([]), /^doctor: pass the worker's URL/);
  });

  it("exits 2 with one line for a URL nothing answers", async () => {
    // A port that was free a moment ago: nothing listens there.
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    await new Promise((r) => server.close(r));
    oneLine(await doctor(["--url", `http://127.0.0.1:${port}`]), new RegExp(`^doctor: cannot reach http://127\\.0\\.0\\.1:${port}: ECONNREFUSED`));
  });

  it("exits 2 with one line for a key the worker refuses", async () => {
    oneLine(await doctor(["--url", worker.url], worker.serviceKey), /^doctor: the worker refused BILLING_ADMIN_KEY \(HTTP 403 forbidden\)/);
    oneLine(await doctor(["--url", worker.url], "fja_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), /^doctor: the worker refused BILLING_ADMIN_KEY \(HTTP 401 unauthenticated\)/);
  });
});
