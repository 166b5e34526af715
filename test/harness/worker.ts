/**
 * The billing worker, in-process, for Node-side tests and benchmarks (vitest `environment: "node"`
 * or `tsx`). No wrangler, no files written in the repository, nothing persisted.
 *
 *   const w = await startWorker();            // bundles worker/src/index.ts once per process
 *   await w.setEntitlement("user-1", { tier: "local", status: "active" });
 *   await fetch(`${w.url}/v1/entitlements/token`, { method: "POST",
 *     headers: { authorization: `Bearer ${w.serviceKey}`, "content-type": "application/json" },
 *     body: JSON.stringify({ user_id: "user-1" }) });
 *   await w.dispose();
 *
 * What it does:
 * - bundles worker/src/index.ts with esbuild (workerd conditions, ESM) into a temp directory
 *   (os.tmpdir(); removed at process exit), cached per process, or once per vitest run
 *   (test/harness/bundle.setup.ts);
 * - runs it in workerd through Miniflare's API on 127.0.0.1 (port 0 = any free port) with an
 *   in-memory D1 (`DB`), the `stripe-events` queue (producer EVENTS, consumed by the worker itself,
 *   as in wrangler.toml but with a 50 ms batch timeout), both rate-limit bindings (generous limits), and the vars/secrets the
 *   worker needs: ENVIRONMENT=test, APP_BASE_URL, fresh Ed25519 ENTITLEMENTS_SIGNING_KEYS
 *   (scripts/keys.ts), ENTITLEMENTS_ISSUER / _AUDIENCE, a fresh AUDIT_CHECKPOINT_SECRET;
 *   `opts.bindings` override or add
 *   (e.g. STRIPE_API_BASE and STRIPE_SECRET_KEY of a running emulator);
 * - serves wrangler.toml's [assets] (the dashboard's static files) as wrangler dev does:
 *   the same directory, binding and run_worker_first rules;
 * - applies migrations/*.sql in order through the D1 binding, recording each in d1_migrations as
 *   `wrangler d1 migrations apply` does;
 * - creates an admin and a service API key with the worker's own domain function (hashed key +
 *   audit row, exactly as the API does) and returns their plaintext;
 * - `setEntitlement` writes a user's entitlement state through the worker's
 *   `setEntitlementState` (audited), on a drizzle instance over Miniflare's D1 proxy.
 *
 * The worker's clock is the real one (workerd); `opts.now` is only the clock of the writes made
 * from Node (API keys, entitlement states).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { drizzle } from "drizzle-orm/d1";
import { build, type BuildOptions } from "esbuild";
import { convertV4MiniflareOptions, Miniflare, NoOpLog } from "miniflare";
import Stripe from "stripe";
import { MIGRATIONS_TABLE_SQL } from "../../scripts/d1.ts";
import { generateSigningKey, type SigningJwk } from "../../scripts/keys.ts";
import { auditWriter } from "../../worker/src/audit/append.ts";
import type { Actor } from "../../worker/src/audit/chain.ts";
import { createApiKey } from "../../worker/src/auth/api-keys.ts";
import type { Db } from "../../worker/src/db/client.ts";
import * as schema from "../../worker/src/db/schema.ts";
import type { Role } from "../../worker/src/db/schema.ts";
import { noEntitlement, readEntitlement, setEntitlementState, type EntitlementState } from "../../worker/src/entitlements/state.ts";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const DEFAULT_ISSUER = "https://billing.test";
export const DEFAULT_AUDIENCE = "federal-job-advisor";
export const DEFAULT_APP_BASE_URL = "https://app.test";
/** wrangler.toml's database_id: the name wrangler gives the local D1 it keeps under .wrangler/state. */
export const WRANGLER_D1_ID = "00000000-0000-0000-0000-000000000000";

/** The D1 binding as Miniflare hands it to Node (a proxy to workerd's). */
export type HarnessD1 = Awaited<ReturnType<Miniflare["getD1Database"]>>;

export interface StartWorkerOptions {
  /** Port on 127.0.0.1; default 0 (a free one). */
  port?: number;
  /** Extra or overriding vars/secrets (all strings), e.g. STRIPE_API_BASE, ENTITLEMENTS_TOKEN_TTL_SECONDS. */
  bindings?: Record<string, string>;
  /** Signing key set (default: one fresh `current` and one fresh `next` key). */
  signingKeys?: { keys: SigningJwk[] };
  /** Clock (ms) for the writes made from Node: API keys, entitlement states. Default Date.now. */
  now?: () => number;
  /** Print workerd's logs (console.log of the worker). Default false. */
  verbose?: boolean;
  /**
   * Keep D1 on disk in wrangler's local layout under this directory (`<dir>/v3/d1`, the
   * database id of wrangler.toml), so `wrangler d1 ... --local` with a config beside
   * `<dir>/..` (.wrangler/state) reads and writes the same database. Migrations are applied
   * only while it has no tables. Default: in memory.
   */
  persistTo?: string;
  /**
   * The Rate Limiting bindings' limits (requests per `period` seconds, 10 or 60) for a test about
   * them; default: a million a minute each, out of every other test's way.
   */
  rateLimits?: { ip?: number; key?: number; period?: 10 | 60 };
  /**
   * The stripe-events consumer's max_batch_timeout, seconds. Default 0.05, so tests see events
   * stored quickly; wrangler.toml's 1 makes the consumer store a burst of webhooks before it
   * processes any of them, as the deployed and `npm start` workers do.
   */
  queueBatchTimeoutSeconds?: number;
  /** Another bundle of the worker to run (a bench's variant of it); default: worker/src/index.ts bundled by bundleWorker(). */
  scriptPath?: string;
  /**
   * Serve wrangler.toml's [assets] through the local asset router in front of the worker, as
   * wrangler dev does (default true). A benchmark of the worker's own routes passes false: on
   * Cloudflare that routing runs before the Worker, outside its CPU, while locally it is a second
   * worker in the same workerd, costing every request about as much again as a bare route.
   */
  assets?: boolean;
  /** Migration files (`0029_report_indexes.sql`) left unapplied, as on a deployment behind on `npm run db:migrate:remote`. */
  unappliedMigrations?: string[];
}

export type EntitlementPatch = Partial<Omit<EntitlementState, "userId">>;

export interface WorkerHarness {
  /** Base URL, no trailing slash: `http://127.0.0.1:<port>`. */
  url: string;
  mf: Miniflare;
  /** The worker's D1 database (Miniflare's proxy). */
  db: HarnessD1;
  /** drizzle over `db`, with the worker's schema: pass it to worker domain functions. */
  orm: Db;
  /** Plaintext API keys created at start. */
  adminKey: string;
  serviceKey: string;
  /** The private signing key set given to the worker (ENTITLEMENTS_SIGNING_KEYS). */
  signingKeys: { keys: SigningJwk[] };
  issuer: string;
  audience: string;
  appBaseUrl: string;
  /** A new plaintext API key with that role. */
  createKey(role: Role, name?: string): Promise<string>;
  /**
   * Sets a user's entitlement state (audited, as the worker's dunning does). Unset fields start
   * from "no entitlement"; `past_due` without `graceUntil` gets now + 21 days.
   */
  setEntitlement(userId: string, patch: EntitlementPatch): Promise<EntitlementState>;
  /** The user's stored entitlement state. */
  getEntitlement(userId: string): Promise<EntitlementState>;
  /** `fetch` on the worker: path relative to `url`, `key` sent as a Bearer token, `json` as the body. */
  request(pathname: string, init?: RequestInit & { key?: string; json?: unknown }): Promise<Response>;
  /**
   * Waits until the worker's queue consumer has handled every webhook accepted so far: posts a
   * signed sentinel event (needs STRIPE_WEBHOOK_SECRETS in `bindings`), waits for its row
   * (Miniflare hands out batches in order, one at a time), then deletes that row; then a second
   * one, since the consumer stores a batch before it processes it.
   */
  drainQueue(timeoutMs?: number): Promise<void>;
  /** Stops workerd. Idempotent. */
  dispose(): Promise<void>;
}

/** How the worker is bundled for workerd outside wrangler (this harness, and the bench's variants). */
export const WORKER_BUILD = {
  bundle: true,
  format: "esm",
  platform: "neutral",
  conditions: ["workerd", "worker", "browser"],
  mainFields: ["module", "main"],
  external: ["node:*", "cloudflare:*"],
  target: "es2022",
  // A map file beside the bundle, not inline: Miniflare maps a worker's stack traces through the
  // file a `sourceMappingURL` names, and an inline map tripled the script workerd is handed at
  // every start (3 MB to 10 MB), a cost paid once per test file that starts the worker.
  sourcemap: "linked",
  write: true,
  logLevel: "silent",
} as const satisfies BuildOptions;

let bundle: Promise<string> | undefined;
let bundleDir: string | undefined;

/**
 * Where test/harness/bundle.setup.ts (a vitest globalSetup) put the bundle it made for the whole
 * run: every test file runs in a process of its own, and each bundling the same sources again
 * cost a second or two of CPU per file.
 */
export const SHARED_BUNDLE_ENV = "PIA_WORKER_BUNDLE";

/** worker/src/index.ts bundled once per process into a temp dir (or the run's shared bundle); returns the script path. */
export function bundleWorker(): Promise<string> {
  const shared = process.env[SHARED_BUNDLE_ENV];
  if (shared) return Promise.resolve(shared);
  bundle ??= (async () => {
    bundleDir = mkdtempSync(path.join(tmpdir(), "pia-worker-"));
    process.once("exit", () => {
      if (bundleDir) rmSync(bundleDir, { recursive: true, force: true });
    });
    const scriptPath = path.join(bundleDir, "worker.mjs");
    await build({ ...WORKER_BUILD, entryPoints: [path.join(ROOT, "worker/src/index.ts")], outfile: scriptPath });
    return scriptPath;
  })();
  bundle.catch(() => (bundle = undefined));
  return bundle;
}

/** migrations/*.sql in name order, split on drizzle's statement breakpoints. */
export function readMigrations(dir = path.join(ROOT, "migrations")): { name: string; statements: string[] }[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".sql"))
    .sort()
    .map((name) => ({
      name,
      statements: readFileSync(path.join(dir, name), "utf8")
        .split("--> statement-breakpoint")
        .map((s) => s.trim())
        .filter(Boolean),
    }));
}

/**
 * Every migration in order, but those in `except` (a deployment behind on its migrations), each
 * recorded in d1_migrations as wrangler records it. All of them go in one D1 batch, a single
 * round trip to workerd instead of one per file (a second of every worker start); a batch is
 * one transaction, so if it fails nothing is applied and they are applied again one file at a
 * time, for an error that names the migration that failed.
 */
export async function applyMigrations(db: HarnessD1, except: readonly string[] = []): Promise<void> {
  await db.prepare(MIGRATIONS_TABLE_SQL).run();
  const perFile = readMigrations()
    .filter((m) => !except.includes(m.name))
    .map((m) => ({ name: m.name, statements: [...m.statements.map((sql) => db.prepare(sql)), db.prepare("INSERT INTO d1_migrations (name) VALUES (?)").bind(m.name)] }));
  const all = perFile.flatMap((m) => m.statements);
  if (all.length === 0) return;
  try {
    await db.batch(all);
    return;
  } catch {
    // Found below, one file at a time.
  }
  for (const m of perFile) {
    try {
      await db.batch(m.statements);
    } catch (e) {
      throw new Error(`migration ${m.name} failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  }
}

const HARNESS: Actor = { type: "system", id: "test-harness" };

/**
 * Miniflare's D1 proxy with each SQL text prepared once. Every call on the proxy is a round trip
 * into workerd, and `prepare` and `bind` are synchronous ones that block this process: a loop
 * waiting on a row prepared and bound its statement on every turn, about five times the CPU of
 * a turn on a statement prepared and bound once (npm run bench -- harness), with tests waiting
 * that way many times a second while three files share two cores. A prepared statement never changes
 * (`bind` returns a new one), so one per text can serve every caller, drizzle included.
 */
function preparedOnce(db: HarnessD1): HarnessD1 {
  const statements = new Map<string, ReturnType<HarnessD1["prepare"]>>();
  // A plain object, not a Proxy over the proxy: a Proxy's get trap makes V8 ask the target for
  // the property's descriptor, one more synchronous round trip on every access.
  const wrapped: Pick<HarnessD1, "prepare" | "batch" | "exec" | "withSession"> = {
    prepare(sql) {
      let statement = statements.get(sql);
      if (!statement) statements.set(sql, (statement = db.prepare(sql)));
      return statement;
    },
    batch: (list) => db.batch(list),
    exec: (query) => db.exec(query),
    withSession: (constraint) => db.withSession(constraint),
  };
  return wrapped as HarnessD1;
}

/** wrangler.toml's [assets], read from the file so the harness serves what wrangler dev serves. */
export function assetsConfig(): { directory: string; binding: string; run_worker_first: string[] } {
  const toml = readFileSync(path.join(ROOT, "wrangler.toml"), "utf8");
  const section = /^\[assets\]\s*$([\s\S]*?)(?=^\[|(?![\s\S]))/m.exec(toml)?.[1];
  const value = (key: string) => section && new RegExp(`^${key}\\s*=\\s*(.+)$`, "m").exec(section)?.[1];
  const directory = value("directory");
  const binding = value("binding");
  const first = value("run_worker_first");
  if (!directory || !binding || !first) throw new Error("wrangler.toml has no complete [assets] section (directory, binding, run_worker_first)");
  return { directory: path.resolve(ROOT, JSON.parse(directory) as string), binding: JSON.parse(binding) as string, run_worker_first: JSON.parse(first) as string[] };
}

export async function startWorker(opts: StartWorkerOptions = {}): Promise<WorkerHarness> {
  const now = opts.now ?? Date.now;
  const signingKeys = opts.signingKeys ?? { keys: [await generateSigningKey("current"), await generateSigningKey("next")] };
  const bindings: Record<string, string> = {
    ENVIRONMENT: "test",
    APP_BASE_URL: DEFAULT_APP_BASE_URL,
    ENTITLEMENTS_SIGNING_KEYS: JSON.stringify(signingKeys),
    ENTITLEMENTS_ISSUER: DEFAULT_ISSUER,
    ENTITLEMENTS_AUDIENCE: DEFAULT_AUDIENCE,
    ENTITLEMENTS_TOKEN_TTL_SECONDS: "600",
    AUDIT_CHECKPOINT_SECRET: Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("hex"),
    WEBHOOK_SECRETS_KEY: Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("hex"),
    ...opts.bindings,
  };
  const scriptPath = opts.scriptPath ?? (await bundleWorker());
  const assets = assetsConfig();
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      name: "billing",
      modules: true,
      scriptPath,
      modulesRoot: path.dirname(scriptPath),
      compatibilityDate: "2026-11-01",
      compatibilityFlags: ["nodejs_compat"],
      d1Databases: { DB: opts.persistTo ? WRANGLER_D1_ID : "billing-test" },
      ...(opts.persistTo ? { resourcePersistencePath: path.join(opts.persistTo, "v3") } : {}),
      ...(opts.assets === false ? {} : { assets: { directory: assets.directory, binding: assets.binding, run_worker_first: assets.run_worker_first, routerConfig: { has_user_worker: true } } }),
      ratelimits: {
        RATE_LIMIT_KEY: { namespace_id: "1001", simple: { limit: opts.rateLimits?.key ?? 1_000_000, period: opts.rateLimits?.period ?? 60 } },
        RATE_LIMIT_IP: { namespace_id: "1002", simple: { limit: opts.rateLimits?.ip ?? 1_000_000, period: opts.rateLimits?.period ?? 60 } },
      },
      // As wrangler.toml, but a 50 ms batch timeout (not 1 s) so tests see events stored quickly.
      queueProducers: { EVENTS: { queueName: "stripe-events" }, OUTBOUND: { queueName: "outbound-webhooks" } },
      queueConsumers: {
        "stripe-events": { maxBatchSize: 100, maxBatchTimeout: opts.queueBatchTimeoutSeconds ?? 0.05, maxRetries: 10, retryDelay: 10, deadLetterQueue: "stripe-events-dlq" },
        "outbound-webhooks": { maxBatchSize: 100, maxBatchTimeout: opts.queueBatchTimeoutSeconds ?? 0.05, maxRetries: 3 },
        "stripe-events-dlq": { maxBatchSize: 100, maxBatchTimeout: 1, maxRetries: 100, retryDelay: 3600 },
      },
      bindings,
      // Crons over HTTP, as `wrangler dev --test-scheduled` serves /__scheduled to npm start:
      // GET /cdn-cgi/local/scheduled?cron=... runs the scheduled handler to its end.
      unsafeTriggerHandlers: true,
      host: "127.0.0.1",
      port: opts.port ?? 0,
      // Quiet unless verbose: Miniflare's own log, and the worker's console lines, which workerd
      // hands over as structured logs that Miniflare would otherwise print into this process.
      ...(opts.verbose ? {} : { log: new NoOpLog(), handleStructuredLogs: () => {} }),
    }),
  );
  let disposed = false;
  const dispose = async () => {
    if (disposed) return;
    disposed = true;
    await mf.dispose();
  };
  try {
    const url = String(await mf.ready).replace(/\/+$/, "");
    const db = preparedOnce(await mf.getD1Database("DB"));
    const migrated = opts.persistTo && (await db.prepare("select 1 from sqlite_master where type = 'table' and name = 'audit_log'").first());
    if (!migrated) await applyMigrations(db, opts.unappliedMigrations);
    const orm = drizzle(db, { schema }) as unknown as Db;

    const clock = { now };
    const deps = { db: orm, clock, audit: auditWriter(orm, clock) };
    const createKey = async (role: Role, name = `${role}-harness`) => (await createApiKey(deps, HARNESS, { name, role })).key;
    const adminKey = await createKey("admin");
    const serviceKey = await createKey("service");

    const setEntitlement = async (userId: string, patch: EntitlementPatch) => {
      const t = now();
      const state: EntitlementState = { ...noEntitlement(userId), ...patch, userId };
      if (state.status === "past_due" && patch.graceUntil === undefined) state.graceUntil = t + 21 * 86_400_000;
      if (state.status === "suspended" && patch.suspendedAt === undefined) state.suspendedAt = t;
      await setEntitlementState(deps, state, HARNESS);
      return state;
    };

    const request = (pathname: string, init: RequestInit & { key?: string; json?: unknown } = {}) => {
      const { key, json, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (key) headers.set("authorization", `Bearer ${key}`);
      if (json !== undefined) headers.set("content-type", "application/json");
      return fetch(`${url}${pathname}`, { ...rest, headers, ...(json !== undefined && { body: JSON.stringify(json), method: rest.method ?? "POST" }) });
    };

    const sentinel = async (timeoutMs: number) => {
      const secret = bindings.STRIPE_WEBHOOK_SECRETS?.split(",")[0]?.trim();
      if (!secret) throw new Error("drainQueue needs STRIPE_WEBHOOK_SECRETS in the bindings");
      const id = `evt_drain_${Date.now()}_${Math.random().toString(36).slice(2)}`;
      const body = JSON.stringify({
        id,
        object: "event",
        type: "charge.succeeded",
        created: Math.floor(Date.now() / 1000),
        livemode: false,
        api_version: null,
        pending_webhooks: 1,
        request: { id: null, idempotency_key: null },
        data: { object: { id: "ch_drain", object: "charge" } },
      });
      const signature = await Stripe.webhooks.generateTestHeaderStringAsync({ payload: body, secret, cryptoProvider: Stripe.createSubtleCryptoProvider() });
      const res = await fetch(`${url}/webhooks/stripe`, { method: "POST", headers: { "content-type": "application/json", "stripe-signature": signature }, body });
      if (res.status !== 200) throw new Error(`sentinel delivery failed: HTTP ${res.status} ${await res.text()}`);
      const started = Date.now();
      const stored = db.prepare("select 1 from stripe_events where id = ?").bind(id);
      while (!(await stored.first())) {
        if (Date.now() - started > timeoutMs) throw new Error("the queue consumer did not store the sentinel in time");
        await new Promise((r) => setTimeout(r, 20));
      }
      await db.prepare("delete from stripe_events where id = ?").bind(id).run();
    };
    // The first sentinel may share a batch with the last webhooks: stored with them, before the
    // consumer processes them. The second comes in a batch of its own, handed out only once that
    // invocation, processing included, has ended.
    const drainQueue = async (timeoutMs = 30_000) => {
      await sentinel(timeoutMs);
      await sentinel(timeoutMs);
    };

    return {
      url,
      mf,
      db,
      orm,
      adminKey,
      serviceKey,
      signingKeys,
      issuer: bindings.ENTITLEMENTS_ISSUER!,
      audience: bindings.ENTITLEMENTS_AUDIENCE!,
      appBaseUrl: bindings.APP_BASE_URL!,
      createKey,
      setEntitlement,
      getEntitlement: (userId) => readEntitlement(orm, userId),
      request,
      drainQueue,
      dispose,
    };
  } catch (e) {
    await dispose().catch(() => {});
    throw e;
  }
}
