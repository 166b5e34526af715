/**
 * npm run doctor -- --url https://billing.example.com [--json]
 *
 * Whether a deployment of the billing worker works end to end, as a checklist: ✓ passes, ⚠ warns,
 * ✗ fails and says what to do. It reads GET /health, GET /v1/system/checks (admin key from
 * BILLING_ADMIN_KEY: every setting by name and state, the migrations D1 recorded, the crons, the
 * Stripe webhook endpoint for this URL, the catalog's prices, signing keys, the audit chain,
 * email, retries) and the JWKS, and compares the applied migrations with this repository's
 * migrations/ folder. docs/operations.md ("Doctor") says what each line means.
 *
 * Exit status: 0 when nothing fails (warnings allowed), 1 when a check fails, 2 when the doctor
 * could not run (no key, a malformed or unreachable URL, a key the worker refuses): one line on
 * stderr, never a stack trace.
 */
import { readdirSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { isLocalUrl } from "./stripe-setup/input.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const TIMEOUT_MS = 30_000;

type Status = "pass" | "warn" | "fail";
interface DoctorLine {
  id: string;
  title: string;
  status: Status;
  detail: string;
  fix: string | null;
}

/** A reason the doctor cannot run at all: printed as one line, exit status 2. */
class BadInput extends Error {}

interface Health {
  status: "ok" | "degraded" | "down";
  failing: string[];
  stripe?: { ok: boolean; error?: string };
  webhooks?: { pending: number; oldest_pending_age_s: number | null; parked: number };
  warnings: { code: string; detail: string }[];
}

interface Report {
  environment: string;
  status: Status;
  checks: DoctorLine[];
  migrations: { table: string; found: boolean; applied: { name: string }[] };
  signing_keys: { current_kid: string; public_kids: string[] } | null;
}

function parse(argv: string[]): { url: URL; key: string; json: boolean } {
  let values: { url?: string; json?: boolean };
  try {
    ({ values } = parseArgs({ args: argv, options: { url: { type: "string" }, json: { type: "boolean", default: false } }, strict: true }));
  } catch (e) {
    throw new BadInput(`${(e as Error).message} (usage: npm run doctor -- --url https://<worker> [--json])`);
  }
  const raw = values.url ?? process.env.BILLING_URL;
  if (!raw) throw new BadInput("pass the worker's URL: npm run doctor -- --url https://<worker>");
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new BadInput(`--url is not a URL: ${JSON.stringify(raw)} (e.g. https://billing.example.com)`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new BadInput(`--url must be http(s)://, not ${url.protocol}`);
  // The admin key goes with every request: never in clear text across a network.
  if (url.protocol === "http:" && !isLocalUrl(url.href)) throw new BadInput(`--url must use https; http is for a worker on this machine only: ${raw}`);
  const key = process.env.BILLING_ADMIN_KEY?.trim();
  if (!key) throw new BadInput("set BILLING_ADMIN_KEY to an admin API key of this worker (npm run apikey -- create --role admin --name doctor [--remote])");
  return { url, key, json: values.json ?? false };
}

/** fetch, with a reachability failure turned into the one line the operator needs. */
async function get(url: URL, key?: string): Promise<Response> {
  try {
    return await fetch(url, { headers: key ? { authorization: `Bearer ${key}` } : {}, signal: AbortSignal.timeout(TIMEOUT_MS), redirect: "follow" });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    const why = (e as Error).name === "TimeoutError" ? `no answer within ${TIMEOUT_MS / 1000} s` : (cause?.code ?? cause?.message ?? (e as Error).message);
    throw new BadInput(`cannot reach ${url.origin}: ${why}`);
  }
}

async function readJson<T>(res: Response, what: string): Promise<T> {
  const text = await res.text();
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new BadInput(`${what} answered HTTP ${res.status} with ${res.headers.get("content-type") ?? "no content type"}, not JSON: is this the billing worker's URL?`);
  }
}

/** migrations/*.sql, the names wrangler records in d1_migrations. */
function repositoryMigrations(): string[] {
  return readdirSync(path.join(ROOT, "migrations"))
    .filter((f) => f.endsWith(".sql"))
    .sort();
}

const HEALTH_FIXES: Record<string, string> = {
  d1: "check [[d1_databases]] in wrangler.toml (database_id of `npx wrangler d1 list`), then npm run deploy",
  stripe: "check STRIPE_SECRET_KEY (npx wrangler secret put STRIPE_SECRET_KEY) and https://status.stripe.com",
  webhook_lag: "the queue consumer is behind or failing: npx wrangler tail --format json, and GET /v1/events?status=pending",
  events_parked: "GET /v1/events?status=parked names them; once the cause is fixed, POST /v1/events/{id}/replay each (or POST /v1/events/replay with a time range)",
};

function healthLines(health: Health, status: number): DoctorLine[] {
  const lines: DoctorLine[] = [];
  const covered = (f: string) => f.startsWith("cron:");
  if (health.status === "ok") lines.push({ id: "health", title: "/health", status: "pass", detail: "ok", fix: null });
  else
    lines.push({
      id: "health",
      title: "/health",
      status: "fail",
      detail: `${health.status} (HTTP ${status}); failing: ${health.failing.join(", ")}`,
      fix: health.failing.every(covered) ? "see the cron lines below" : "see the health: lines below",
    });
  for (const f of health.failing.filter((x) => !covered(x))) {
    const detail =
      f === "stripe"
        ? `Stripe: ${health.stripe?.error ?? "failing"}`
        : f === "webhook_lag"
          ? `the oldest unprocessed event has waited ${health.webhooks?.oldest_pending_age_s ?? "?"} s`
          : f === "events_parked"
            ? `${health.webhooks?.parked ?? "some"} event(s) used up their retries and are parked`
            : f === "d1"
              ? "D1 does not answer"
              : f;
    lines.push({ id: `health:${f}`, title: `/health: ${f}`, status: "fail", detail, fix: HEALTH_FIXES[f] ?? null });
  }
  // The checks route reports retries and crons itself, with a fix.
  for (const w of health.warnings.filter((x) => x.code !== "stripe_retries_overlap" && x.code !== "cron_failed"))
    lines.push({ id: `health:${w.code}`, title: `/health: ${w.code}`, status: "warn", detail: w.detail, fix: null });
  return lines;
}

function migrationLine(report: Report, repository: string[]): DoctorLine {
  const command = report.environment === "development" ? "npm run db:migrate" : "npm run db:migrate:remote";
  const title = "D1 migrations match migrations/";
  if (!report.migrations.found) return { id: "migrations", title, status: "fail", detail: `D1 has no ${report.migrations.table} table: no migration was applied with wrangler.`, fix: command };
  const applied = new Set(report.migrations.applied.map((m) => m.name));
  const missing = repository.filter((m) => !applied.has(m));
  const unknown = [...applied].filter((m) => !repository.includes(m));
  if (missing.length) return { id: "migrations", title, status: "fail", detail: `${missing.length} of ${repository.length} not applied: ${missing.join(", ")}.`, fix: command };
  if (unknown.length)
    return {
      id: "migrations",
      title,
      status: "warn",
      detail: `D1 has migrations this checkout lacks: ${unknown.join(", ")} (the deployment is newer than this checkout).`,
      fix: "git pull, then run the doctor again",
    };
  return { id: "migrations", title, status: "pass", detail: `All ${repository.length} applied, the last ${repository.at(-1)}.`, fix: null };
}

async function jwksLine(url: URL, report: Report): Promise<DoctorLine | null> {
  if (!report.signing_keys) return null;
  const title = "The JWKS is served";
  const res = await get(new URL("/.well-known/jwks.json", url));
  const body = res.ok ? await readJson<{ keys?: { kid?: string }[] }>(res, "/.well-known/jwks.json") : { keys: [] };
  const kids = new Set((body.keys ?? []).map((k) => k.kid));
  if (res.ok && kids.has(report.signing_keys.current_kid))
    return { id: "jwks", title, status: "pass", detail: `/.well-known/jwks.json publishes the current key ${report.signing_keys.current_kid} (${kids.size} key(s)).`, fix: null };
  return {
    id: "jwks",
    title,
    status: "fail",
    detail: res.ok ? `/.well-known/jwks.json lacks the current key ${report.signing_keys.current_kid}: apps cannot verify new tokens.` : `/.well-known/jwks.json answered HTTP ${res.status}.`,
    fix: "npm run deploy (the JWKS route comes with the worker), and check that no route or cache in front of the worker rewrites /.well-known/",
  };
}

async function doctor(url: URL, key: string): Promise<{ lines: DoctorLine[]; health: Health; report: Report | null }> {
  const base = new URL(url.origin + url.pathname.replace(/\/+$/, "") + "/");
  const healthRes = await get(new URL("health", base));
  const health = await readJson<Health>(healthRes, "/health");
  if (!Array.isArray(health.failing)) throw new BadInput(`${base.origin}/health did not answer as the billing worker does: is this its URL?`);
  const lines = healthLines(health, healthRes.status);

  const res = await get(new URL("v1/system/checks", base), key);
  if (res.status === 401 || res.status === 403) {
    const problem = await readJson<{ code?: string; detail?: string }>(res, "/v1/system/checks");
    throw new BadInput(`the worker refused BILLING_ADMIN_KEY (HTTP ${res.status} ${problem.code ?? ""}): it must be an active admin key of this worker`);
  }
  if (res.status === 404) {
    lines.push({ id: "checks", title: "GET /v1/system/checks", status: "fail", detail: "This worker has no checks route: it runs an older version.", fix: "npm run deploy" });
    return { lines, health, report: null };
  }
  const report = await readJson<Report>(res, "/v1/system/checks");
  if (!res.ok || !Array.isArray(report.checks)) {
    lines.push({
      id: "checks",
      title: "GET /v1/system/checks",
      status: "fail",
      detail: `HTTP ${res.status}: ${(report as unknown as { detail?: string }).detail ?? "no report"}`,
      fix: "npx wrangler tail --format json shows the worker's error",
    });
    return { lines, health, report: null };
  }
  for (const check of report.checks) {
    lines.push(check.id === "migrations" ? migrationLine(report, repositoryMigrations()) : check);
    if (check.id === "signing_keys") {
      const jwks = await jwksLine(base, report);
      if (jwks) lines.push(jwks);
    }
  }
  return { lines, health, report };
}

const MARK: Record<Status, string> = { pass: "✓", warn: "⚠", fail: "✗" };

function print(url: URL, environment: string | null, lines: DoctorLine[]): void {
  console.log(`Doctor for ${url.origin}${environment ? ` (${environment})` : ""}`);
  for (const l of lines) {
    console.log(`${MARK[l.status]} ${l.title}: ${l.detail}`);
    if (l.status !== "pass" && l.fix) console.log(`    fix: ${l.fix}`);
  }
  const count = (s: Status) => lines.filter((l) => l.status === s).length;
  console.log(`${count("pass")} passed, ${count("warn")} warning(s), ${count("fail")} failed`);
}

async function main(): Promise<number> {
  const { url, key, json } = parse(process.argv.slice(2));
  const { lines, health, report } = await doctor(url, key);
  const failed = lines.some((l) => l.status === "fail");
  if (json) console.log(JSON.stringify({ url: url.origin, status: failed ? "fail" : lines.some((l) => l.status === "warn") ? "warn" : "pass", checks: lines, health, report }, null, 2));
  else print(url, report?.environment ?? null, lines);
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    const message = e instanceof BadInput ? e.message : `unexpected error: ${(e as Error)?.message ?? String(e)}`;
    console.error(`doctor: ${message.split("\n")[0]}`);
    process.exit(2);
  },
);
