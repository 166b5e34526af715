/**
 * Whether this deployment is set up to work, end to end: what `npm run doctor` reads through
 * GET /v1/system/checks. Where /health says whether the running system keeps up, this says
 * whether it was set up right: every variable the routes read, the migrations D1 recorded, the
 * crons, the Stripe webhook endpoint that points at this worker and the prices the catalog
 * names, the signing keys, the audit chain, the email transport and who retries failed invoices.
 *
 * Each check is pass, warn or fail, with a sentence and, for a failure, what to do (the exact
 * command where there is one). Nothing here holds a value of a secret or var: a variable is
 * reported by name and state, and a Stripe failure by its kind (Stripe's own messages can quote
 * part of a key).
 */
import { sql } from "drizzle-orm";
import { verifyAuditChain } from "../audit";
import { catalog, stripePriceMatches } from "../catalog";
import { dunningWarnings } from "../dunning";
import { CONFIG_CONCERNS, emailConfig, stripeConfig, type ConfigConcern, type Env } from "../env";
import { isDomainError } from "../errors";
import { instant, instantOrNull } from "../instant";
import type { Services } from "../services";
import { HANDLED_EVENT_TYPES, Stripe } from "../stripe-sync";
import { CRON_MAX_GAP_MS, cronStatuses } from "./crons";

export type CheckStatus = "pass" | "warn" | "fail";

export interface DeploymentCheck {
  /** Stable: `config:<concern>`, `cron:<name>`, or one of the names in CHECK_IDS. */
  id: string;
  title: string;
  status: CheckStatus;
  /** What was found, in a sentence or two. */
  detail: string;
  /** What to do about a failure or warning (a command where there is one); null when nothing is to be done. */
  fix: string | null;
}

export interface VariableState {
  name: string;
  kind: "secret" | "var" | "binding";
  /** The configuration concerns (env.ts) that read it. */
  concerns: ConfigConcern[];
  /** Whether a concern cannot work without it (it has no default and is not optional). */
  required: boolean;
  /** `unset`: absent and optional (its default applies); `missing`: absent and needed. */
  status: "ok" | "unset" | "missing" | "invalid";
  /** What is wrong, in words that never quote the value; null when nothing is. */
  problem: string | null;
}

export interface DeploymentReport {
  generated_at: string;
  environment: string;
  /** `fail` when any check fails, `warn` when any warns, else `pass`. */
  status: CheckStatus;
  checks: DeploymentCheck[];
  variables: VariableState[];
  migrations: { table: string; found: boolean; applied: { name: string; applied_at: string | null }[] };
  crons: { cron: string; schedule: string; max_gap_s: number; last_started_at: string | null; last_finished_at: string | null; last_ok: boolean | null; overdue: boolean }[];
  stripe_events: { last_received_at: string | null; last_created_at: string | null };
  webhook_endpoint: {
    url: string;
    found: boolean;
    id: string | null;
    status: string | null;
    api_version: string | null;
    pinned_api_version: string;
    missing_events: string[];
    /** Every endpoint of the account, by URL, so an endpoint kept under another address shows. */
    other_urls: string[];
  } | null;
  prices: { lookup_key: string; price_id: string | null; active: boolean | null; matches_catalog: boolean | null }[];
  signing_keys: { current_kid: string; public_kids: string[] } | null;
}

export interface DeploymentInputs {
  env: Env;
  /** The worker's public origin, as the request reached it: the webhook endpoint must be `<origin>/webhooks/stripe`. */
  origin: string;
  /** Each cron job's schedule by name (cron.ts CRONS). */
  schedules: Readonly<Record<string, string>>;
}

type Deps = Pick<Services, "db" | "clock" | "stripe" | "stripeMode" | "signer" | "checkpointKey" | "dunning">;

export const WEBHOOK_PATH = "/webhooks/stripe";
/** The table `wrangler d1 migrations apply` records each applied file in (wrangler.toml's migrations_table, default). */
export const MIGRATIONS_TABLE = "d1_migrations";
const STRIPE_TIMEOUT_MS = 10_000;

const BINDINGS = new Set(["DB", "EVENTS", "OUTBOUND", "EMAIL", "RATE_LIMIT_KEY", "RATE_LIMIT_IP", "ASSETS"]);
const SECRETS = new Set([
  "STRIPE_SECRET_KEY",
  "STRIPE_WEBHOOK_SECRETS",
  "ENTITLEMENTS_SIGNING_KEYS",
  "AUDIT_CHECKPOINT_SECRET",
  "RESEND_API_KEY",
  "SMTP_USER",
  "SMTP_PASSWORD",
  "ALERT_WEBHOOK_SECRET",
  "WEBHOOK_SECRETS_KEY",
]);

const present = (v: unknown) => v !== undefined && v !== null && v !== "";

/** Each variable every concern reads, merged by name (ENVIRONMENT is read by three), worst state first. */
export function variableStates(env: Env): VariableState[] {
  const byName = new Map<string, VariableState>();
  const rank = { ok: 0, unset: 0, invalid: 1, missing: 2 } as const;
  for (const [concern, schema] of Object.entries(CONFIG_CONCERNS) as [ConfigConcern, (typeof CONFIG_CONCERNS)[ConfigConcern]][]) {
    const result = schema.safeParse(env);
    const issues = new Map<string, string>();
    for (const issue of result.success ? [] : result.error.issues) {
      const name = String(issue.path[0] ?? "");
      if (name && !issues.has(name)) issues.set(name, issue.message);
    }
    for (const [name, field] of Object.entries(schema.shape) as [string, { safeParse(v: unknown): { success: boolean } }][]) {
      const value = (env as Record<string, unknown>)[name];
      const required = !field.safeParse(undefined).success;
      const issue = issues.get(name);
      const status: VariableState["status"] = issue !== undefined ? (present(value) ? "invalid" : "missing") : present(value) ? "ok" : required ? "missing" : "unset";
      // An absent value's zod message speaks of types ("expected string, received undefined"): say it plainly.
      const problem = status === "invalid" ? issue! : status === "missing" ? (issue && /required|missing/i.test(issue) ? issue : "is required") : null;
      const state: VariableState = { name, kind: BINDINGS.has(name) ? "binding" : SECRETS.has(name) ? "secret" : "var", concerns: [concern], required, status, problem };
      const seen = byName.get(name);
      if (!seen) byName.set(name, state);
      else {
        seen.concerns.push(concern);
        seen.required ||= required;
        if (rank[status] > rank[seen.status]) Object.assign(seen, { status, problem });
      }
    }
  }
  return [...byName.values()];
}

/** How to set a variable where this worker reads it; the secrets that are generated say how. */
function setVariable(v: Pick<VariableState, "name" | "kind">, development: boolean, webhookUrl: string): string {
  if (v.kind === "binding") return `declare the ${v.name} binding in wrangler.toml (docs/operations.md, "Configuration"), then npm run deploy`;
  if (development) return `set ${v.name} in .dev.vars (see .dev.vars.example), then restart npm start`;
  switch (v.name) {
    case "ENTITLEMENTS_SIGNING_KEYS":
      return "npm run keys:generate > keys.json && npx wrangler secret put ENTITLEMENTS_SIGNING_KEYS < keys.json && rm keys.json";
    case "AUDIT_CHECKPOINT_SECRET":
    case "ALERT_WEBHOOK_SECRET":
    case "WEBHOOK_SECRETS_KEY":
      return `openssl rand -hex 32 | npx wrangler secret put ${v.name}`;
    case "STRIPE_WEBHOOK_SECRETS":
      return `npx wrangler secret put STRIPE_WEBHOOK_SECRETS with the signing secret of ${webhookUrl} (printed by npm run stripe:setup when it creates the endpoint, or in Stripe's Dashboard → Developers → Webhooks)`;
  }
  return v.kind === "secret" ? `npx wrangler secret put ${v.name}` : `set ${v.name} in wrangler.toml [vars], then npm run deploy`;
}

const CONCERN_TITLES: Record<ConfigConcern, string> = {
  core: "Core settings (D1, ENVIRONMENT, APP_BASE_URL)",
  return_urls: "Return URLs for Checkout and the billing portal",
  stripe: "Stripe API key",
  webhook: "Stripe webhook secrets and the events queue",
  ingest: "Event processing per consumer run",
  signing: "Entitlement token settings",
  audit: "Audit checkpoint secret",
  email: "Email transport settings",
  dunning: "Dunning settings",
  monitoring: "Alert webhook settings",
  limits: "Rate limiting bindings",
  assets: "Static assets binding",
  outbound: "Outbound webhook settings",
};

function configChecks(variables: VariableState[], extra: Partial<Record<ConfigConcern, string>>, development: boolean, webhookUrl: string): DeploymentCheck[] {
  return (Object.keys(CONFIG_CONCERNS) as ConfigConcern[]).map((concern) => {
    const bad = variables.filter((v) => v.concerns.includes(concern) && (v.status === "missing" || v.status === "invalid"));
    const more = extra[concern];
    const id = `config:${concern}`;
    const title = CONCERN_TITLES[concern];
    if (bad.length === 0 && !more) {
      const set = variables.filter((v) => v.concerns.includes(concern) && v.status === "ok").map((v) => v.name);
      return { id, title, status: "pass", detail: set.length ? `${set.join(", ")} ${set.length === 1 ? "is" : "are"} set and valid.` : "Nothing set; the defaults apply.", fix: null };
    }
    const detail = [...bad.map((v) => `${v.name} ${v.status === "missing" ? "is missing" : "is invalid"}: ${v.problem}.`), ...(more ? [more] : [])].join(" ");
    const fix = bad.length ? bad.map((v) => setVariable(v, development, webhookUrl)).join("; ") : 'correct the DUNNING_* settings (docs/operations.md, "Configuration"), then npm run deploy';
    return { id, title, status: "fail", detail, fix };
  });
}

/** A duration for a sentence: "40 s", "12 min", "3 h", "2 days". */
export function age(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} days`;
}

async function migrations(s: Pick<Services, "db">): Promise<DeploymentReport["migrations"]> {
  const [table] = await s.db.all<{ n: number }>(sql`select count(*) as n from sqlite_master where type = 'table' and name = ${MIGRATIONS_TABLE}`);
  if (!Number(table?.n)) return { table: MIGRATIONS_TABLE, found: false, applied: [] };
  const rows = await s.db.all<{ name: string; applied_at: string | null }>(sql`select name, applied_at from ${sql.identifier(MIGRATIONS_TABLE)} order by id`);
  // SQLite's CURRENT_TIMESTAMP: UTC, "YYYY-MM-DD HH:MM:SS".
  const at = (v: string | null) => {
    const ms = v ? Date.parse(`${v.replace(" ", "T")}Z`) : Number.NaN;
    return Number.isFinite(ms) ? instant(ms) : null;
  };
  return { table: MIGRATIONS_TABLE, found: true, applied: rows.map((r) => ({ name: r.name, applied_at: at(r.applied_at) })) };
}

/** The newest event a webhook brought, by insertion order (rowid), so the read costs one row, not a scan of the inbox. */
async function lastEvent(s: Pick<Services, "db">): Promise<DeploymentReport["stripe_events"]> {
  const [row] = await s.db.all<{ received_at: number; created_at: number }>(sql`select received_at, created_at from stripe_events where source = 'webhook' order by rowid desc limit 1`);
  return { last_received_at: instantOrNull(row?.received_at), last_created_at: instantOrNull(row?.created_at) };
}

/** Why a Stripe call failed, by kind only: Stripe's messages can quote part of the key. */
function stripeFailure(e: unknown): string {
  if (isDomainError(e, "config_invalid")) return "Stripe is not configured (STRIPE_SECRET_KEY)";
  const type = (e as { type?: string }).type;
  if (type === "StripeAuthenticationError") return "Stripe refused STRIPE_SECRET_KEY";
  if (type === "StripePermissionError") return "STRIPE_SECRET_KEY may not read this (a restricted key needs read access to it)";
  if (type === "StripeConnectionError" || /timed? ?out/i.test(String((e as Error)?.message))) return "Stripe did not answer";
  return `Stripe answered with an error${type ? ` (${type})` : ""}`;
}

type Outcome<T> = { ok: true; value: T } | { ok: false; why: string };
async function fromStripe<T>(work: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await work() };
  } catch (e) {
    return { ok: false, why: stripeFailure(e) };
  }
}

async function webhookEndpoint(s: Pick<Services, "stripe">, url: string, pinned: string): Promise<Outcome<NonNullable<DeploymentReport["webhook_endpoint"]>>> {
  return fromStripe(async () => {
    const all: Stripe.WebhookEndpoint[] = [];
    for await (const ep of s.stripe.webhookEndpoints.list({ limit: 100 }, { timeout: STRIPE_TIMEOUT_MS })) all.push(ep);
    const mine = all.find((ep) => ep.url.replace(/\/+$/, "") === url);
    const events = new Set(mine?.enabled_events ?? []);
    return {
      url,
      found: mine !== undefined,
      id: mine?.id ?? null,
      status: mine?.status ?? null,
      api_version: mine?.api_version ?? null,
      pinned_api_version: pinned,
      missing_events: !mine || events.has("*") ? [] : HANDLED_EVENT_TYPES.filter((t) => !events.has(t)),
      other_urls: all.filter((ep) => ep !== mine).map((ep) => ep.url),
    };
  });
}

async function prices(s: Pick<Services, "stripe">): Promise<Outcome<DeploymentReport["prices"]>> {
  const wanted = catalog.tiers.flatMap((t) => t.prices);
  return fromStripe(async () => {
    const found: Stripe.Price[] = [];
    // Stripe takes up to 10 lookup keys per list.
    for (let i = 0; i < wanted.length; i += 10) {
      found.push(...(await s.stripe.prices.list({ lookup_keys: wanted.slice(i, i + 10).map((p) => p.lookupKey), limit: 100 }, { timeout: STRIPE_TIMEOUT_MS })).data);
    }
    return wanted.map((p) => {
      const price = found.find((x) => x.lookup_key === p.lookupKey);
      return {
        lookup_key: p.lookupKey,
        price_id: price?.id ?? null,
        active: price?.active ?? null,
        matches_catalog: price ? stripePriceMatches(price, p) : null,
      };
    });
  });
}

const messageOf = (e: unknown) => (isDomainError(e) ? e.message : "the value could not be read");

export async function deploymentChecks(s: Deps, input: DeploymentInputs): Promise<DeploymentReport> {
  const now = s.clock.now();
  // The parsed value, never the raw one: an invalid ENVIRONMENT is named by config:core instead.
  const parsed = CONFIG_CONCERNS.core.shape.ENVIRONMENT.safeParse(input.env.ENVIRONMENT);
  const environment = parsed.success ? parsed.data : "invalid";
  const development = environment === "development";
  const webhookUrl = `${input.origin.replace(/\/+$/, "")}${WEBHOOK_PATH}`;
  const setup = `npm run stripe:setup -- --webhook-url ${webhookUrl}`;
  const variables = variableStates(input.env);
  let pinned: string = Stripe.API_VERSION;
  try {
    pinned = stripeConfig(input.env).STRIPE_API_VERSION ?? pinned;
  } catch {
    // Stripe not configured: its own checks say so; the package's version is still the one pinned.
  }

  const extra: Partial<Record<ConfigConcern, string>> = {};
  try {
    // Built on first use: a payday anchor that is not a Friday is only found here.
    void s.dunning;
  } catch (e) {
    extra.dunning = messageOf(e);
  }

  const [applied, crons, events, endpoint, priceList, signing, audit, overlap] = await Promise.all([
    migrations(s),
    cronStatuses(s),
    lastEvent(s),
    webhookEndpoint(s, webhookUrl, pinned),
    prices(s),
    Promise.resolve()
      .then(() => s.signer.keys())
      .then(
        (k) => ({ ok: true as const, value: { current_kid: k.current.kid, public_kids: k.jwks.keys.map((j) => j.kid) } }),
        (e: unknown) => ({ ok: false as const, why: messageOf(e) }),
      ),
    // The checkpoint key is built on first use: a malformed secret throws config_invalid there.
    Promise.resolve()
      .then(() => verifyAuditChain(s))
      .then(
        (value) => ({ ok: true as const, value }),
        (e: unknown) => ({ ok: false as const, why: messageOf(e) }),
      ),
    extra.dunning ? Promise.resolve(null) : dunningWarnings(s),
  ]);

  const checks: DeploymentCheck[] = configChecks(variables, extra, development, webhookUrl);

  checks.push(
    applied.found
      ? {
          id: "migrations",
          title: "D1 migrations recorded",
          status: "pass",
          detail: `${applied.applied.length} migration(s) recorded in ${MIGRATIONS_TABLE}, the last ${applied.applied.at(-1)?.name ?? "none"}.`,
          fix: null,
        }
      : {
          id: "migrations",
          title: "D1 migrations recorded",
          status: "fail",
          detail: `D1 has no ${MIGRATIONS_TABLE} table: the migrations were never applied with wrangler.`,
          fix: development ? "npm run db:migrate" : "npm run db:migrate:remote",
        },
  );

  const cronFix = (name: string) =>
    development
      ? `npm start runs the crons every minute; run this one now: curl "${input.origin}/__scheduled?cron=${encodeURIComponent(input.schedules[name] ?? "").replaceAll("%20", "+")}"`
      : `check crons = [${Object.values(input.schedules)
          .map((c) => `"${c}"`)
          .join(", ")}] under [triggers] in wrangler.toml, then npm run deploy (Cloudflare dashboard → the worker → Settings → Triggers lists them)`;
  for (const c of crons) {
    const schedule = input.schedules[c.cron] ?? "?";
    const gap = CRON_MAX_GAP_MS[c.cron] ?? 0;
    const base = { id: `cron:${c.cron}`, title: `The ${c.cron} cron (${schedule}) runs` };
    if (c.overdue)
      checks.push({
        ...base,
        status: "fail",
        detail:
          c.last_started_at === null ? `It has never run, while the other crons have for over ${age(gap)}.` : `It last started ${age(now - c.last_started_at)} ago; it must start within ${age(gap)}.`,
        fix: cronFix(c.cron),
      });
    else if (c.last_started_at === null) checks.push({ ...base, status: "warn", detail: `It has not run yet (it runs ${schedule}).`, fix: cronFix(c.cron) });
    else if (c.last_ok === false)
      checks.push({
        ...base,
        status: "warn",
        detail: `It last started ${age(now - c.last_started_at)} ago and its last run failed.`,
        fix: "the reason is in the worker's logs: npx wrangler tail --format json",
      });
    else checks.push({ ...base, status: "pass", detail: `It last started ${age(now - c.last_started_at)} ago (at ${instant(c.last_started_at)}); due within ${age(gap)}.`, fix: null });
  }

  checks.push(
    events.last_received_at
      ? {
          id: "stripe_events",
          title: "Stripe events arrive",
          status: "pass",
          detail: `The last webhook event was received at ${events.last_received_at} (${age(now - Date.parse(events.last_received_at))} ago).`,
          fix: null,
        }
      : {
          id: "stripe_events",
          title: "Stripe events arrive",
          status: "warn",
          detail: "No webhook event has been received yet.",
          fix: `send one: Stripe Dashboard → Developers → Webhooks → ${webhookUrl} → Send test event, or any change in Stripe`,
        },
  );

  if (!endpoint.ok)
    checks.push({
      id: "webhook_endpoint",
      title: `Stripe webhook endpoint for ${webhookUrl}`,
      status: "fail",
      detail: `Not checked: ${endpoint.why}.`,
      fix: "see the config:stripe check and GET /health's stripe",
    });
  else if (!endpoint.value.found)
    checks.push({
      id: "webhook_endpoint",
      title: `Stripe webhook endpoint for ${webhookUrl}`,
      status: "fail",
      detail: `Stripe has no webhook endpoint for this URL${endpoint.value.other_urls.length ? ` (it has ${endpoint.value.other_urls.join(", ")})` : ""}: no event reaches this worker.`,
      fix: setup,
    });
  else {
    const ep = endpoint.value;
    checks.push(
      ep.status === "enabled"
        ? { id: "webhook_endpoint", title: `Stripe webhook endpoint for ${webhookUrl}`, status: "pass", detail: `${ep.id} exists and is enabled.`, fix: null }
        : {
            id: "webhook_endpoint",
            title: `Stripe webhook endpoint for ${webhookUrl}`,
            status: "fail",
            detail: `${ep.id} is ${ep.status}: Stripe sends it nothing.`,
            fix: `enable it: Stripe Dashboard → Developers → Webhooks → ${webhookUrl} → Enable, or ${setup}`,
          },
      ep.missing_events.length === 0
        ? {
            id: "webhook_events",
            title: "The endpoint sends every event type the worker handles",
            status: "pass",
            detail: `All ${HANDLED_EVENT_TYPES.length} handled event types are enabled.`,
            fix: null,
          }
        : {
            id: "webhook_events",
            title: "The endpoint sends every event type the worker handles",
            status: "fail",
            detail: `${ep.missing_events.length} handled event type(s) are not enabled, so those changes never reach the worker: ${ep.missing_events.join(", ")}.`,
            fix: setup,
          },
      ep.api_version === pinned
        ? { id: "webhook_api_version", title: "The endpoint's API version is the pinned one", status: "pass", detail: `${pinned}.`, fix: null }
        : {
            id: "webhook_api_version",
            title: "The endpoint's API version is the pinned one",
            status: "fail",
            detail: `The endpoint sends events in ${ep.api_version ?? "the account's default version"}, the worker reads ${pinned}.`,
            // Stripe cannot change an endpoint's version: a new endpoint replaces it.
            fix: `${setup} (an endpoint's version cannot change: it makes a new one; then delete ${ep.id})`,
          },
    );
  }

  if (!priceList.ok)
    checks.push({
      id: "catalog_prices",
      title: "Every catalog price resolves by lookup key",
      status: "fail",
      detail: `Not checked: ${priceList.why}.`,
      fix: "see the config:stripe check and GET /health's stripe",
    });
  else {
    const missing = priceList.value.filter((p) => !p.price_id || !p.active);
    const differ = priceList.value.filter((p) => p.matches_catalog === false);
    checks.push(
      missing.length + differ.length === 0
        ? {
            id: "catalog_prices",
            title: "Every catalog price resolves by lookup key",
            status: "pass",
            detail: `${priceList.value.map((p) => p.lookup_key).join(", ")} each resolve to an active price.`,
            fix: null,
          }
        : {
            id: "catalog_prices",
            title: "Every catalog price resolves by lookup key",
            status: "fail",
            detail: [
              missing.length ? `No active price has the lookup key ${missing.map((p) => p.lookup_key).join(", ")}: checkout for it fails.` : "",
              differ.length ? `The price of ${differ.map((p) => p.lookup_key).join(", ")} differs from the catalog (amount, currency, interval or interval count).` : "",
            ]
              .filter(Boolean)
              .join(" "),
            fix: "npm run stripe:setup",
          },
    );
  }

  checks.push(
    signing.ok
      ? {
          id: "signing_keys",
          title: "Entitlement signing keys load",
          status: "pass",
          detail: `The current key ${signing.value.current_kid} signs; the JWKS publishes ${signing.value.public_kids.length} key(s).`,
          fix: null,
        }
      : {
          id: "signing_keys",
          title: "Entitlement signing keys load",
          status: "fail",
          detail: signing.why,
          fix: setVariable({ name: "ENTITLEMENTS_SIGNING_KEYS", kind: "secret" }, development, webhookUrl),
        },
  );

  if (!audit.ok)
    checks.push({
      id: "audit_chain",
      title: "The audit chain verifies",
      status: "fail",
      detail: `Not checked: ${audit.why}`,
      fix: setVariable({ name: "AUDIT_CHECKPOINT_SECRET", kind: "secret" }, development, webhookUrl),
    });
  else
    checks.push(
      audit.value.ok
        ? {
            id: "audit_chain",
            title: "The audit chain verifies",
            status: "pass",
            detail: `${audit.value.rows_checked} row(s) verify${audit.value.checkpoint ? ` against the checkpoint at seq ${audit.value.checkpoint.seq}` : ""}.`,
            fix: null,
          }
        : {
            id: "audit_chain",
            title: "The audit chain verifies",
            status: "fail",
            detail: `The chain breaks at seq ${audit.value.first_broken?.seq} (${audit.value.first_broken?.reason}): the audit log was changed outside the worker.`,
            fix: 'GET /v1/audit/verify names the row; compare with a backup (docs/operations.md, "Audit checkpoints" and "Backup and restore")',
          },
      audit.value.checkpointing === "enabled"
        ? { id: "audit_checkpoints", title: "Audit checkpoints are signed", status: "pass", detail: "AUDIT_CHECKPOINT_SECRET is set: the minute cron signs the chain's head.", fix: null }
        : {
            id: "audit_checkpoints",
            title: "Audit checkpoints are signed",
            status: "fail",
            detail: "AUDIT_CHECKPOINT_SECRET is unset: nothing shows a chain recomputed by whoever can write D1.",
            fix: setVariable({ name: "AUDIT_CHECKPOINT_SECRET", kind: "secret" }, development, webhookUrl),
          },
    );

  let transport: string | null = null;
  try {
    transport = emailConfig(input.env).EMAIL_TRANSPORT;
  } catch {
    // config:email names what is wrong.
  }
  const emailTitle = "The email transport fits the environment";
  if (transport === null)
    checks.push({ id: "email_transport", title: emailTitle, status: "fail", detail: "The email settings are invalid (see config:email): no email is sent.", fix: "see config:email" });
  else if (transport !== "log") checks.push({ id: "email_transport", title: emailTitle, status: "pass", detail: `EMAIL_TRANSPORT is ${transport} (${environment}).`, fix: null });
  else if (development)
    checks.push({
      id: "email_transport",
      title: emailTitle,
      status: "pass",
      detail: "EMAIL_TRANSPORT is log in development: emails are kept in the outbox (GET /v1/emails), none is sent.",
      fix: null,
    });
  else
    checks.push({
      id: "email_transport",
      title: emailTitle,
      status: environment === "production" ? "fail" : "warn",
      detail: `EMAIL_TRANSPORT is log in ${environment}: dunning and lifecycle emails are marked sent and never leave the worker.`,
      fix: 'set EMAIL_TRANSPORT to resend, cloudflare or smtp with its settings (docs/operations.md, "Configuration")',
    });

  const mode = (() => {
    try {
      return s.stripeMode;
    } catch {
      return null;
    }
  })();
  if (mode !== null) {
    const wrong = (environment === "production") !== (mode === "live");
    checks.push(
      wrong
        ? {
            id: "stripe_mode",
            title: "The Stripe key's mode fits the environment",
            status: environment === "production" ? "warn" : "fail",
            detail: environment === "production" ? "A production worker on a test key: no real payment is taken." : `A live Stripe key in ${environment}: real cards would be charged.`,
            fix: setVariable({ name: "STRIPE_SECRET_KEY", kind: "secret" }, development, webhookUrl),
          }
        : { id: "stripe_mode", title: "The Stripe key's mode fits the environment", status: "pass", detail: `A ${mode} key in ${environment}.`, fix: null },
    );
  }

  // What the mirror can show of Stripe's own retries: a dunning case whose invoice Stripe has
  // scheduled a next attempt for (invoice.next_payment_attempt, written by the sync).
  const retriesTitle = "Failed invoices are retried by one side only";
  if (overlap === null) checks.push({ id: "dunning_retries", title: retriesTitle, status: "fail", detail: "The dunning policy could not be read (see config:dunning).", fix: "see config:dunning" });
  else if (s.dunning.retries.by === "stripe")
    checks.push({
      id: "dunning_retries",
      title: retriesTitle,
      status: "pass",
      detail: "DUNNING_RETRIES is stripe: the worker only emails and suspends; Stripe's retry settings (Dashboard → Billing → Revenue recovery → Retries) must be on.",
      fix: null,
    });
  else if (overlap.length === 0)
    checks.push({ id: "dunning_retries", title: retriesTitle, status: "pass", detail: "The worker retries, and no open dunning case has a retry scheduled by Stripe.", fix: null });
  else
    checks.push({
      id: "dunning_retries",
      title: retriesTitle,
      status: "warn",
      detail: overlap.map((w) => w.detail).join(" "),
      fix: "turn off Stripe's automatic retries (Dashboard → Billing → Revenue recovery → Retries), or set DUNNING_RETRIES=stripe",
    });

  const status: CheckStatus = checks.some((c) => c.status === "fail") ? "fail" : checks.some((c) => c.status === "warn") ? "warn" : "pass";
  return {
    generated_at: instant(now),
    environment,
    status,
    checks,
    variables,
    migrations: applied,
    crons: crons.map((c) => ({
      cron: c.cron,
      schedule: input.schedules[c.cron] ?? "",
      max_gap_s: Math.round((CRON_MAX_GAP_MS[c.cron] ?? 0) / 1000),
      last_started_at: instantOrNull(c.last_started_at),
      last_finished_at: instantOrNull(c.last_finished_at),
      last_ok: c.last_ok,
      overdue: c.overdue,
    })),
    stripe_events: events,
    webhook_endpoint: endpoint.ok ? endpoint.value : null,
    prices: priceList.ok ? priceList.value : [],
    signing_keys: signing.ok ? signing.value : null,
  };
}
