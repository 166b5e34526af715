/**
 * npm run stripe:setup [-- --webhook-url URL] [--dry-run] [--json]: makes the Stripe account of
 * STRIPE_SECRET_KEY (or the emulator at STRIPE_API_BASE) match the catalog and its policy:
 * products and prices by lookup key, the worker's webhook endpoint, the billing portal's
 * configuration; checks Stripe Tax and the key's mode against ENVIRONMENT. Idempotent: a second
 * run prints "Nothing to change" and writes nothing. Exit status 2 on bad input, 1 when Stripe
 * refuses a change, 0 otherwise (warnings included).
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { catalog } from "../worker/src/catalog.ts";
import { HANDLED_EVENT_TYPES } from "../worker/src/stripe-sync/handled-events.ts";
import { pinnedApiVersion } from "../worker/src/stripe-sync/api-version.ts";
import { ROOT } from "./d1.ts";
import { describeChange, readInput, runSetup, SetupInputError, stripeFor, type SetupResult } from "./stripe-setup/index.ts";
import { wranglerVars } from "./stripe-setup/input.ts";

function render(result: SetupResult, context: string): string {
  const lines = [context];
  const { plan } = result;
  if (plan.changes.length === 0) lines.push("Nothing to change: the account matches the catalog.");
  else {
    lines.push(result.dryRun ? `Would change (dry run, nothing written):` : `Changed:`);
    for (const c of plan.changes) lines.push(`  ${result.dryRun ? "-" : "✓"} ${describeChange(c)}`);
  }
  lines.push("Checks:");
  for (const c of plan.checks) lines.push(`  ${c.ok ? "✓" : "!"} ${c.message}`);
  if (result.secret?.kind === "dev_vars")
    lines.push(`The new endpoint's signing secret is in ${path.relative(process.cwd(), result.secret.path) || result.secret.path} (STRIPE_WEBHOOK_SECRETS); restart wrangler dev to load it.`);
  if (result.secret?.kind === "wrangler") {
    lines.push("Give the worker the new endpoint's signing secret (Stripe shows it only now):", `  ${result.secret.command}`);
  }
  return lines.join("\n");
}

function asJson(result: SetupResult, mode: string, environment: string): string {
  return JSON.stringify(
    {
      mode,
      environment,
      dry_run: result.dryRun,
      nothing_to_change: result.plan.changes.length === 0,
      changes: result.plan.changes.map((c) => ({ ...c, summary: describeChange(c) })),
      checks: result.plan.checks,
      webhook_endpoint_id: result.applied?.webhookEndpointId ?? null,
      webhook_secret: result.secret === null ? null : result.secret.kind === "dev_vars" ? { written_to: result.secret.path } : { secret: result.secret.secret, command: result.secret.command },
    },
    null,
    2,
  );
}

/** Why Stripe could not be asked, in one line; null for any other failure. */
function inputProblem(e: unknown, base: string): string | null {
  const type = e instanceof Error && "type" in e ? e.type : null;
  if (type === "StripeConnectionError") return `cannot reach Stripe at ${base}: ${e instanceof Error ? e.message : String(e)} (check STRIPE_API_BASE, or unset it for Stripe)`;
  if (type === "StripeAuthenticationError") return `Stripe refused STRIPE_SECRET_KEY: ${e instanceof Error ? e.message : String(e)}`;
  return null;
}

async function main(): Promise<number> {
  let args: { "webhook-url"?: string | undefined; "dry-run"?: boolean | undefined; json?: boolean | undefined };
  try {
    args = parseArgs({ options: { "webhook-url": { type: "string" }, "dry-run": { type: "boolean" }, json: { type: "boolean" } }, strict: true, allowPositionals: false }).values;
  } catch (e) {
    throw new SetupInputError(`${e instanceof Error ? e.message : String(e)} (flags: --webhook-url URL, --dry-run, --json)`);
  }
  const vars = wranglerVars(await readFile(path.join(ROOT, "wrangler.toml"), "utf8").catch(() => ""));
  const input = readInput(process.env, { webhookUrl: args["webhook-url"] }, vars);
  const stripe = stripeFor(input);
  const base = input.apiBase?.origin ?? "https://api.stripe.com";
  try {
    const result = await runSetup(stripe, {
      target: {
        catalog,
        webhookUrl: input.webhookUrl,
        events: HANDLED_EVENT_TYPES,
        apiVersion: pinnedApiVersion({ STRIPE_API_VERSION: input.apiVersion ?? undefined }),
        portalReturnUrl: `${input.appBaseUrl}/billing`,
      },
      environment: input.environment,
      keyMode: input.keyMode,
      dryRun: args["dry-run"] ?? false,
      devVarsPath: path.join(ROOT, ".dev.vars"),
    });
    const context = `Stripe ${input.keyMode} account${input.apiBase ? ` at ${base}` : ""}, ENVIRONMENT=${input.environment}:`;
    console.log(args.json ? asJson(result, input.keyMode, input.environment) : render(result, context));
    return 0;
  } catch (e) {
    const problem = inputProblem(e, base);
    if (problem) throw new SetupInputError(problem);
    throw e;
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof SetupInputError) {
      console.error(`stripe:setup: ${e.message}`);
      process.exit(2);
    }
    console.error(`stripe:setup failed: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
