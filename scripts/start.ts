/**
 * npm start [-- --fresh]: the whole product locally, offline, with a year of demo data.
 * 1. .dev.vars with local secrets (signing keys, emulator key, audit checkpoint secret) when
 *    missing; `--fresh` first wipes the local D1, the emulator's state and the keys;
 * 2. local D1 migrations, then a local admin key when none exists (.wrangler/local-admin-key,
 *    gitignored); a new database gets both from one wrangler process (scripts/d1.ts), while:
 * 3. the Stripe emulator on :12111, provisioned by `npm run stripe:setup`'s code (the catalog's
 *    prices, the portal's policy, and the worker's webhook endpoint with exactly the event types
 *    it handles, whose secret setup writes into .dev.vars);
 * 4. then wrangler dev on :8787 (wrangler.toml with the local queue consumer settings of
 *    devConfig; it reads .dev.vars as it starts), its crons run by this script (wrangler dev runs none by itself);
 * 6. a service key, and the demo data (scripts/demo) unless it is there already;
 * 7. the job-board demo app on :3000, gated by the SDK, which registers its receiver of the
 *    worker's outbound webhooks with the admin key (the endpoint's id and secret are kept in
 *    .wrangler/local-webhook-endpoint, so a restart reuses the endpoint and its secret).
 */
import { spawn } from "node:child_process";
import { access, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import Stripe from "stripe";
import { startEmulator, type Emulator } from "../packages/stripe-emulator/src/index.ts";
import { catalog } from "../worker/src/catalog.ts";
import { createKey, firstKeyStatements, readLocalAdminKey, saveLocalAdminKey } from "./apikey.ts";
import { HANDLED_EVENT_TYPES } from "../worker/src/stripe-sync/handled-events.ts";
import { pinnedApiVersion } from "../worker/src/stripe-sync/api-version.ts";
import { describeChange, runSetup } from "./stripe-setup/index.ts";
import { hashKey } from "../worker/src/auth/keys.ts";
import { applyLocalMigrations, d1, lit, localMigrations, ROOT } from "./d1.ts";
import { generateSigningKey } from "./keys.ts";
import { parseArgs } from "node:util";
import { Presets, SingleBar } from "cli-progress";
import { startJobBoard, type RunningJobBoard } from "../examples/job-board/src/index.ts";
import { seedDemo, type SeedProgress } from "./demo/seed.ts";

const PORT = Number(process.env.PORT ?? 8787);
const EMULATOR_PORT = Number(process.env.EMULATOR_PORT ?? 12111);
const APP_PORT = Number(process.env.JOB_BOARD_PORT ?? 3000);
const APP_ORIGIN = `http://127.0.0.1:${APP_PORT}`;
const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

function parseVars(text: string): Map<string, string> {
  const vars = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) vars.set(m[1]!, m[2]!);
  }
  return vars;
}

/** Fills in every local secret that is missing or still a placeholder; keeps what a person set. */
async function ensureDevVars(): Promise<Map<string, string>> {
  const file = path.join(ROOT, ".dev.vars");
  const vars = (await exists(file)) ? parseVars(await readFile(file, "utf8")) : new Map<string, string>();
  // The worker's own address was the app's until the demo app came (tokens' links lead there now).
  if (vars.get("APP_BASE_URL") === `http://127.0.0.1:${PORT}`) vars.delete("APP_BASE_URL");
  const placeholder = (k: string) => !vars.get(k) || /replace_me|"keys":\[\]/.test(vars.get(k)!);
  const defaults: Record<string, () => Promise<string> | string> = {
    ENVIRONMENT: () => "development",
    APP_BASE_URL: () => APP_ORIGIN,
    STRIPE_SECRET_KEY: () => "sk_test_emulator",
    STRIPE_API_BASE: () => `http://127.0.0.1:${EMULATOR_PORT}`,
    ENTITLEMENTS_SIGNING_KEYS: async () => JSON.stringify({ keys: [await generateSigningKey("current")] }),
    AUDIT_CHECKPOINT_SECRET: () => Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("hex"),
    WEBHOOK_SECRETS_KEY: () => Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("hex"),
  };
  let changed = false;
  for (const [k, make] of Object.entries(defaults)) {
    if (placeholder(k)) {
      vars.set(k, await make());
      changed = true;
    }
  }
  if (changed) {
    const body = ["# Local secrets written by npm start. Never commit this file.", ...[...vars].map(([k, v]) => `${k}=${v}`)].join("\n") + "\n";
    await writeFile(file, body, { mode: 0o600 });
    console.log("Wrote local secrets to .dev.vars.");
  }
  return vars;
}

/**
 * The `iss` and `aud` the local worker signs entitlement tokens with, i.e. what an app must pass
 * to createEntitlements as issuer and audience: wrangler dev takes wrangler.toml [vars], with
 * .dev.vars overriding them.
 */
async function tokenIssuerAudience(vars: Map<string, string>): Promise<{ iss: string; aud: string }> {
  const toml = await readFile(path.join(ROOT, "wrangler.toml"), "utf8");
  const value = (name: string) => vars.get(name) ?? new RegExp(`^${name}\\s*=\\s*"([^"]*)"`, "m").exec(toml)?.[1] ?? "(unset: the worker's default)";
  return { iss: value("ENTITLEMENTS_ISSUER"), aud: value("ENTITLEMENTS_AUDIENCE") };
}

async function ensureAdminKey(): Promise<string> {
  const saved = await readLocalAdminKey();
  if (saved) {
    // The saved key is only worth printing if it still works: admin, not revoked, not expired.
    const [usable] = await d1<{ n: number }>(
      "local",
      `SELECT count(*) AS n FROM api_keys WHERE hash = ${lit(await hashKey(saved))} AND role = 'admin' AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ${Date.now()})`,
    );
    if (usable?.n) return saved;
  }
  const { key } = await createKey("local", { role: "admin", name: "local-admin" });
  await saveLocalAdminKey(key);
  return key;
}

/**
 * The local D1 migrated, and its admin key. A new database gets both from one wrangler process
 * (each costs a Node start and a workerd start: on the loaded 2-core machine, 15 to 30 s).
 */
async function prepareDatabase(): Promise<string> {
  const { pending, fresh } = await localMigrations();
  if (!fresh) {
    await applyLocalMigrations(pending);
    return ensureAdminKey();
  }
  const { key, statements } = await firstKeyStatements({ role: "admin", name: "local-admin" });
  await applyLocalMigrations(pending, statements);
  await saveLocalAdminKey(key);
  return key;
}

const EMULATOR_STATE = path.join(ROOT, ".wrangler", "emulator-state.json");
const SERVICE_KEY_FILE = path.join(ROOT, ".wrangler", "local-service-key");
const WEBHOOK_ENDPOINT_FILE = path.join(ROOT, ".wrangler", "local-webhook-endpoint");
const DAY = 86_400;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `--fresh`: the local database, the emulator's state and the local keys go; secrets stay. */
async function wipe(): Promise<void> {
  for (const p of [path.join(ROOT, ".wrangler", "state"), EMULATOR_STATE, SERVICE_KEY_FILE, WEBHOOK_ENDPOINT_FILE, path.join(ROOT, ".wrangler", "local-admin-key")])
    await rm(p, { recursive: true, force: true });
  console.log("Wiped the local database, the emulator's state and the local keys (--fresh).");
}

async function api<T>(url: string, key: string, method = "GET", body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json().catch(() => null)) as T };
}

/** A service key for the demo app and the seed, made once through the API (saved, gitignored). */
async function ensureServiceKey(workerUrl: string, adminKey: string): Promise<string> {
  const saved = (await readFile(SERVICE_KEY_FILE, "utf8").catch(() => "")).trim();
  if (saved && (await api(`${workerUrl}/v1/entitlements/demo_probe`, saved)).status === 200) return saved;
  const made = await api<{ key: string }>(`${workerUrl}/v1/keys`, adminKey, "POST", { name: "local-demo-service", role: "service" });
  if (made.status !== 201) throw new Error(`could not create a service key: HTTP ${made.status}`);
  await writeFile(SERVICE_KEY_FILE, made.body.key + "\n", { mode: 0o600 });
  return made.body.key;
}

/**
 * Service keys for the seed's lanes (SeedTarget.laneKeys; why: docs/operations.md, npm start),
 * made for this seeding and revoked by the returned function. Each expires in an hour, so a seed
 * stopped before it revokes them (Ctrl-C) leaves no working key behind for long.
 */
async function seedLaneKeys(workerUrl: string, adminKey: string, lanes: number): Promise<{ keys: string[]; revoke: () => Promise<void> }> {
  const expires = new Date(Date.now() + 3_600_000).toISOString();
  const made = await Promise.allSettled(
    Array.from({ length: lanes }, (_, i) =>
      api<{ key: string; api_key: { id: string } }>(`${workerUrl}/v1/keys`, adminKey, "POST", { name: `local-demo-seed-lane-${i + 1}`, role: "service", expires_at: expires }),
    ),
  );
  const created = made.flatMap((m) => (m.status === "fulfilled" && m.value.status === 201 ? [m.value.body] : []));
  const revoke = async () => {
    const answers = await Promise.allSettled(created.map((k) => api(`${workerUrl}/v1/keys/${k.api_key.id}/revoke`, adminKey, "POST")));
    const failed = answers.filter((a) => a.status === "rejected" || a.value.status !== 200).length;
    if (failed > 0) console.warn(`Could not revoke ${failed} of the seed's lane keys (local-demo-seed-lane-*); they expire within the hour.`);
  };
  if (created.length < lanes) {
    await revoke();
    const why = made.map((m) => (m.status === "rejected" ? String(m.reason) : m.value.status !== 201 ? `HTTP ${m.value.status}` : "")).find(Boolean);
    throw new Error(`could not create the seed's service keys: ${why}`);
  }
  return { keys: created.map((k) => k.key), revoke };
}

async function waitForHealth(url: string, timeoutMs = 60_000): Promise<void> {
  const started = Date.now();
  for (;;) {
    try {
      if ((await fetch(`${url}/health`)).ok) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() - started > timeoutMs) throw new Error(`the worker did not answer ${url}/health within ${timeoutMs / 1000} s`);
    await sleep(250);
  }
}

/** wrangler dev runs no cron by itself: run the worker's like Cloudflare would. */
function runCrons(workerUrl: string): () => void {
  const run = (cron: string) =>
    fetch(`${workerUrl}/__scheduled?cron=${encodeURIComponent(cron).replaceAll("%20", "+")}`).then(
      (r) => r.body?.cancel(),
      () => undefined,
    );
  let minutes = 0;
  const timer = setInterval(() => {
    minutes++;
    void run("* * * * *");
    if (minutes % 15 === 0) void run("*/15 * * * *");
  }, 60_000);
  timer.unref();
  return () => clearInterval(timer);
}

/** The configuration wrangler dev runs: wrangler.toml with the local consumer settings (devConfig). */
const DEV_CONFIG = path.join(ROOT, "wrangler.dev.toml");

/**
 * wrangler.toml for wrangler dev, but a stripe-events consumer that processes every webhook as it
 * arrives: batches taken 100 ms after their first message instead of a second, and every new
 * event of a batch processed in its run (EVENTS_PROCESS_PER_RUN at its maximum, 100: the
 * deployed default of 25 fits a run's subrequest budget, which wrangler dev does not have).
 * With 25, the rest of a batch waited a minute's lease for the sweep, which is where the seed
 * spent most of its time, or came in batches of 25; in batches of 100 more of a customer's
 * consecutive events share one sync, so the worker does less work per event (the "Start to
 * seeded demo" line npm start prints fell from 88 s to 78 s on two cores).
 * Deployed, a burst of renewals is better stored in big batches and processed by the sweep; a
 * local demo has no such burst.
 * Written beside wrangler.toml, so its relative paths, .dev.vars and .wrangler/state are the same.
 */
async function devConfig(): Promise<string> {
  const toml = await readFile(path.join(ROOT, "wrangler.toml"), "utf8");
  const consumer = /(\[\[queues\.consumers\]\]\s*\nqueue = "stripe-events"\s*\nmax_batch_size = \d+\s*\n)max_batch_timeout = [\d.]+/;
  if (!consumer.test(toml)) throw new Error("wrangler.toml has no stripe-events consumer with max_batch_size and max_batch_timeout (in that order): scripts/start.ts's devConfig reads them");
  // The outbound webhooks' nudges too: a local receiver hears a change within a tenth of a second, not a second.
  const outbound = /(\[\[queues\.consumers\]\]\s*\nqueue = "outbound-webhooks"\s*\nmax_batch_size = \d+\s*\n)max_batch_timeout = [\d.]+/;
  if (!outbound.test(toml)) throw new Error("wrangler.toml has no outbound-webhooks consumer with max_batch_size and max_batch_timeout (in that order): scripts/start.ts's devConfig reads them");
  if (!/^\[vars\]$/m.test(toml)) throw new Error("wrangler.toml has no [vars] table: scripts/start.ts's devConfig sets EVENTS_PROCESS_PER_RUN in it");
  const perRun = 'EVENTS_PROCESS_PER_RUN = "100"';
  const local = toml
    .replace(consumer, "$1max_batch_timeout = 0.1")
    .replace(outbound, "$1max_batch_timeout = 0.1")
    // A value wrangler.toml sets is replaced: a second one would be a duplicate key to TOML.
    .replace(/^EVENTS_PROCESS_PER_RUN\s*=.*\n/m, "")
    .replace(/^\[vars\]$/m, `[vars]\n${perRun}`);
  await writeFile(DEV_CONFIG, `# Written by npm start (scripts/start.ts) from wrangler.toml for wrangler dev: edit wrangler.toml.\n${local}`);
  return DEV_CONFIG;
}

/**
 * Resolves once the worker has stored and processed the last event the emulator delivered (the
 * queue hands batches out in order, one at a time, so the ones before it are stored too), or
 * once nothing moved for `stallMs`. The consumer stores a batch only after it processed the one before, so on
 * a busy machine deliveries queue up: /v1/events shows none of them until they are stored, and
 * without this wait the seed would report done with events still in the queue.
 */
async function drainDelivered(emulator: Emulator, workerUrl: string, adminKey: string, stallMs = 120_000): Promise<void> {
  const last = emulator
    .deliveries()
    .filter((d) => d.state === "delivered")
    .at(-1);
  if (!last) return;
  // Bounded by progress, not by time: on a loaded machine the queue can hold minutes of
  // deliveries, and stopping early made the seed's last wait time out with them still queued.
  let since = Date.now();
  let seen = "";
  for (let i = 0, wait = 20; Date.now() - since < stallMs; i++, wait = Math.min(wait * 2, 500)) {
    const page = await api<{ data: { id: string; status: string; attempts: number }[] }>(`${workerUrl}/v1/events?type=${encodeURIComponent(last.eventType)}&limit=200`, adminKey);
    // The admin key's limit (600 a minute) is shared by every customer walked through dunning
    // at once; polled faster than that, the waits saw only 429s and stalled.
    if (page.status === 429) {
      await sleep(1000);
      continue;
    }
    const rows = page.body?.data ?? [];
    const row = rows.find((e) => e.id === last.eventId);
    // Processed, or its processing was tried (a failure waits for the sweep, which the seed runs).
    if (row && (row.status !== "pending" || row.attempts > 0)) return;
    // Progress, looked at every fourth poll: the worker's pending events change as it stores and
    // processes the queue's batches.
    if (i % 4 === 0) {
      const pending = await api<{ data: { id: string; attempts: number }[] }>(`${workerUrl}/v1/events?status=pending&limit=50`, adminKey);
      const now = pending.status === 200 ? (pending.body?.data ?? []).map((e) => `${e.id}:${e.attempts}`).join(",") : seen;
      if (now !== seen) {
        seen = now;
        since = Date.now();
      }
    }
    await sleep(wait);
  }
}

/**
 * The emulator as `npm run stripe:setup` provisions an account, through the same code: prices,
 * the portal's policy, and the worker's endpoint with exactly the handled event types (its
 * secret written into .dev.vars when the endpoint is new). Its Stripe Tax settings are those of
 * the Californian registration its tax rates stand for.
 */
async function provisionEmulator(stripe: Stripe, vars: Map<string, string>): Promise<void> {
  if ((await stripe.tax.settings.retrieve()).status !== "active") {
    await stripe.tax.settings.update({ head_office: { address: { country: "US", state: "CA", postal_code: "94105" } }, defaults: { tax_code: "txcd_10103001" } });
  }
  const appBaseUrl = vars.get("APP_BASE_URL") ?? APP_ORIGIN;
  const environment = vars.get("ENVIRONMENT");
  const result = await runSetup(stripe, {
    target: {
      catalog,
      webhookUrl: `http://127.0.0.1:${PORT}/webhooks/stripe`,
      events: HANDLED_EVENT_TYPES,
      apiVersion: pinnedApiVersion({ STRIPE_API_VERSION: vars.get("STRIPE_API_VERSION") }),
      portalReturnUrl: `${appBaseUrl.replace(/\/+$/, "")}/billing`,
    },
    environment: environment === "test" || environment === "production" ? environment : "development",
    keyMode: "test",
    dryRun: false,
    devVarsPath: path.join(ROOT, ".dev.vars"),
  });
  const changes = result.plan.changes;
  console.log(changes.length === 0 ? "Stripe emulator: nothing to change (npm run stripe:setup's plan)." : `Stripe emulator provisioned (npm run stripe:setup's plan):`);
  for (const c of changes) console.log(`  ✓ ${describeChange(c)}`);
  for (const c of result.plan.checks) if (!c.ok) console.log(`  ! ${c.message}`);
}

/** A progress bar on a terminal; plain lines (every 10 %) in CI or a pipe. */
function progressReporter(total: number) {
  const tty = process.stdout.isTTY && !process.env.CI;
  if (tty) {
    const bar = new SingleBar(
      { format: "  Seeding demo data [{bar}] {value}/{total} customers | {failed} refused | {duration_formatted} elapsed, about {eta_formatted} left", hideCursor: true },
      Presets.shades_classic,
    );
    bar.start(total, 0, { failed: 0 });
    return { update: (p: SeedProgress) => bar.update(p.done, { failed: p.failed }), stop: () => bar.stop() };
  }
  let shown = -1;
  const started = Date.now();
  return {
    update: (p: SeedProgress) => {
      const tenth = Math.floor((p.done / p.total) * 10);
      if (tenth === shown) return;
      shown = tenth;
      const s = (Date.now() - started) / 1000;
      const left = p.done > 0 ? Math.round((s / p.done) * (p.total - p.done)) : null;
      console.log(`  Seeding demo data: ${p.done}/${p.total} customers, ${p.failed} refused, ${Math.round(s)} s${left === null ? "" : `, about ${left} s left`}`);
    },
    stop: () => undefined,
  };
}

async function main() {
  const began = Date.now();
  const { values: args } = parseArgs({ options: { fresh: { type: "boolean", default: false }, customers: { type: "string" } } });
  if (args.fresh) await wipe();
  const vars = await ensureDevVars();
  const token = await tokenIssuerAudience(vars);

  // The migrations and the admin key (each a wrangler process of its own) run while the emulator
  // starts and is provisioned; wrangler dev starts once .dev.vars holds the endpoint's secret.
  console.log("Applying local D1 migrations...");
  let databaseReady = 0;
  const database = prepareDatabase().finally(() => (databaseReady = Date.now()));
  // Awaited below; until then a failure must not count as unhandled.
  database.catch(() => undefined);

  const secretKey = vars.get("STRIPE_SECRET_KEY")!;
  const emulator = await startEmulator({
    port: EMULATOR_PORT,
    secretKey,
    stateFile: EMULATOR_STATE,
    // Californian addresses are taxed (7.25 %), as Stripe Tax would for a registration there.
    taxRates: { "US-CA": 725 },
  });
  const stripe = new Stripe(secretKey, { httpClient: Stripe.createFetchHttpClient(), host: "127.0.0.1", port: EMULATOR_PORT, protocol: "http" });
  await provisionEmulator(stripe, vars);

  const started = Date.now();
  const wrangler = spawn(path.join(ROOT, "node_modules", ".bin", "wrangler"), ["dev", "--config", await devConfig(), "--port", String(PORT), "--ip", "127.0.0.1", "--test-scheduled"], {
    cwd: ROOT,
    stdio: ["inherit", "pipe", "pipe"],
    // Offline: no request.cf download from workers.cloudflare.com, no metrics.
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
  });
  // wrangler's own chatter stays out of the way; its errors still show.
  wrangler.stdout.on("data", (chunk: Buffer) => {
    if (process.env.VERBOSE) process.stdout.write(chunk);
  });
  wrangler.stderr.on("data", (chunk: Buffer) => process.stderr.write(chunk));
  wrangler.on("exit", async (code) => {
    await emulator.stop().catch(() => undefined);
    process.exit(code ?? 0);
  });
  stopWrangler = () => wrangler.kill("SIGINT");
  const adminKey = await database;

  const workerUrl = `http://127.0.0.1:${PORT}`;
  let stopCrons = () => undefined as void;
  let app: RunningJobBoard | undefined;
  const stop = async () => {
    stopCrons();
    await app?.close().catch(() => undefined);
    wrangler.kill("SIGINT");
    await emulator.stop();
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);

  await waitForHealth(workerUrl);
  const since = (t: number) => `${((t - began) / 1000).toFixed(1)} s`;
  console.log(`Billing worker answering ${since(Date.now())} after npm start began (${((Date.now() - started) / 1000).toFixed(1)} s after wrangler dev started).`);
  console.log(`  Emulator provisioned at ${since(started)}, local D1 migrated with its admin key at ${since(databaseReady)}.`);
  stopCrons = runCrons(workerUrl);
  const serviceKey = await ensureServiceKey(workerUrl, adminKey);

  const customers = Number(args.customers ?? 200);
  const seeded = await api<{ status: string }>(`${workerUrl}/v1/entitlements/demo_001`, serviceKey);
  if (seeded.status === 200 && seeded.body.status !== "none") {
    console.log("Demo data is already there (npm start -- --fresh wipes it and seeds again).");
  } else {
    const progress = progressReporter(customers);
    const issues: string[] = [];
    const lanes = 10;
    const laneKeys = await seedLaneKeys(workerUrl, adminKey, lanes);
    const report = await seedDemo(
      {
        workerUrl,
        serviceKey,
        laneKeys: laneKeys.keys,
        adminKey,
        stripe,
        emulatorUrl: emulator.url,
        emulatorKey: secretKey,
        idle: () => emulator.idle(),
        flushed: () => emulator.flushed(),
        drain: () => drainDelivered(emulator, workerUrl, adminKey),
        sweep: async () => void (await fetch(`${workerUrl}/__scheduled?cron=*+*+*+*+*`)).body?.cancel(),
        dunning: async () => void (await fetch(`${workerUrl}/__scheduled?cron=*%2F15+*+*+*+*`)).body?.cancel(),
      },
      // Every new event is processed in the consumer run that stores it here (devConfig), so the
      // sweep only retries failures: every 10 s, not every second, leaves workerd's CPU to the webhooks.
      {
        customers,
        days: 365,
        now: Math.floor(Date.now() / 1000),
        concurrency: lanes,
        sweepEveryMs: 10_000,
        onProgress: (p) => progress.update(p),
        onIssue: (c, what) => issues.push(`${c.userId}: ${what}`),
      },
    ).finally(laneKeys.revoke);
    progress.stop();
    emulator.save();
    console.log(`Seeded ${report.customers} customers with a year of history in ${Math.round(report.seconds)} s${report.failedActions ? ` (${report.failedActions} steps refused)` : ""}.`);
    const { played, settled, crons } = report.phases;
    console.log(`  Stories played in ${played.toFixed(1)} s, the last events processed ${settled.toFixed(1)} s later, the closing crons in ${crons.toFixed(1)} s.`);
    console.log(`Start to seeded demo: ${Math.round((Date.now() - began) / 1000)} s after npm start began.`);
    for (const line of issues.slice(0, 5)) console.log(`  refused: ${line}`);
  }

  // The app registers its webhook receiver with the admin key: a change pushed by the worker
  // reaches its decisions within a second; the short poll of the changes feed stays as the net
  // for a lost push (two seconds). The endpoint saved by the last start is reused as it is.
  const known = (await readFile(WEBHOOK_ENDPOINT_FILE, "utf8").then(JSON.parse, () => null)) as { id?: string; secret?: string } | null;
  app = await startJobBoard({
    billingUrl: workerUrl,
    serviceKey,
    issuer: token.iss,
    audience: token.aud,
    port: APP_PORT,
    origin: APP_ORIGIN,
    changesPollIntervalMs: 2_000,
    adminKey,
    ...(known?.id && known.secret && { webhookEndpointId: known.id, webhookSecret: known.secret }),
  });
  if (app.webhook) await writeFile(WEBHOOK_ENDPOINT_FILE, JSON.stringify({ id: app.webhook.id, url: app.webhook.url, secret: app.webhook.secret }) + "\n", { mode: 0o600 });
  console.log(
    [
      "",
      `  Demo app:         ${app.url}   (sign in with any name; demo_001 … demo_${String(customers).padStart(3, "0")} are the seeded customers)`,
      app.webhook
        ? `  Webhooks:         ${app.webhook.url} receives entitlement.changed (endpoint ${app.webhook.id}, ${app.webhook.action})`
        : `  Webhooks:         the demo app's endpoint is not registered (${app.webhookError ?? "no admin key"}); its decisions follow the changes feed`,
      `  Billing worker:   ${workerUrl}   (health: ${workerUrl}/health, API: ${workerUrl}/openapi.json)`,
      `  Dashboard:        ${workerUrl}/dashboard   (sign in with the admin key below, or an analyst key: npm run apikey -- create --role analyst --name you)`,
      `  Stripe emulator:  ${emulator.url}   (key ${secretKey}; state: ${emulator.url}/_emulator/state)`,
      `  Admin API key:    ${adminKey}`,
      `  Service API key:  ${serviceKey}`,
      `  Entitlements:     iss ${token.iss}   aud ${token.aud}   (issuer and audience for createEntitlements)`,
      `  Try:              curl -H "Authorization: Bearer ${serviceKey}" ${workerUrl}/v1/subscriptions/demo_001`,
      `  Crons:            run every minute by npm start; now: curl "${workerUrl}/__scheduled?cron=*+*+*+*+*"`,
      "",
    ].join("\n"),
  );
}

/** Stops wrangler dev once it runs: a failure of the start must not leave it behind. */
let stopWrangler = () => undefined as unknown;

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  stopWrangler();
  process.exit(1);
});
