/**
 * `npm run stripe:setup`'s logic, importable: read and check the input (input.ts), plan what the
 * account lacks (plan.ts), apply it (apply.ts), and report the new endpoint's signing secret
 * once. `npm start`, the test harnesses (seedCatalog) and the tests call `runSetup` directly.
 */
import { readFile, writeFile } from "node:fs/promises";
import type Stripe from "stripe";
import { applyPlan, type Applied } from "./apply.ts";
import { isLocalUrl, keyModeCheck, type Environment, type KeyMode } from "./input.ts";
import { planSetup, type Plan, type SetupTarget } from "./plan.ts";

export { readInput, SetupInputError, stripeFor, isLocalUrl, type SetupInput } from "./input.ts";
export { describeChange, type Change, type Check, type Plan, type SetupTarget } from "./plan.ts";

export interface SetupOptions {
  target: Omit<SetupTarget, "secretKnown">;
  environment: Environment;
  keyMode: KeyMode;
  dryRun: boolean;
  /** The `.dev.vars` a local endpoint's secret is written to. */
  devVarsPath: string;
}

export type SecretReport = { kind: "dev_vars"; path: string } | { kind: "wrangler"; secret: string; command: string };

export interface SetupResult {
  plan: Plan;
  dryRun: boolean;
  applied: Applied | null;
  /** Where the new endpoint's signing secret went (null: no endpoint was made). */
  secret: SecretReport | null;
}

/** Placeholders (.dev.vars.example's) are no secret. */
function knownSecrets(devVars: string): string[] {
  const line = /^STRIPE_WEBHOOK_SECRETS=(.*)$/m.exec(devVars)?.[1] ?? "";
  return line
    .split(",")
    .map((s) => s.trim())
    .filter((s) => /^whsec_/.test(s) && !/replace_me/.test(s));
}

/** Sets STRIPE_WEBHOOK_SECRETS in a .dev.vars file, keeping every other line. */
export async function writeDevVarsSecret(file: string, secret: string): Promise<void> {
  const text = await readFile(file, "utf8").catch(() => "");
  const line = `STRIPE_WEBHOOK_SECRETS=${secret}`;
  const next = /^STRIPE_WEBHOOK_SECRETS=.*$/m.test(text) ? text.replace(/^STRIPE_WEBHOOK_SECRETS=.*$/m, line) : `${text}${text === "" || text.endsWith("\n") ? "" : "\n"}${line}\n`;
  await writeFile(file, next, { mode: 0o600 });
}

export async function runSetup(stripe: Stripe, options: SetupOptions): Promise<SetupResult> {
  const local = options.target.webhookUrl !== null && isLocalUrl(options.target.webhookUrl);
  // A deployed worker's secret lives in Cloudflare, out of sight: only a local one can be known lost.
  const secretKnown = local ? knownSecrets(await readFile(options.devVarsPath, "utf8").catch(() => "")).length > 0 : true;
  const target: SetupTarget = { ...options.target, secretKnown };
  const plan = await planSetup(stripe, target);
  plan.checks.unshift(keyModeCheck(options.keyMode, options.environment));
  if (options.dryRun || plan.changes.length === 0) return { plan, dryRun: options.dryRun, applied: null, secret: null };
  const applied = await applyPlan(stripe, plan, target);
  let secret: SecretReport | null = null;
  if (applied.webhookSecret) {
    if (local) {
      await writeDevVarsSecret(options.devVarsPath, applied.webhookSecret);
      secret = { kind: "dev_vars", path: options.devVarsPath };
    } else {
      secret = { kind: "wrangler", secret: applied.webhookSecret, command: `printf '%s' '${applied.webhookSecret}' | npx wrangler secret put STRIPE_WEBHOOK_SECRETS` };
    }
  }
  return { plan, dryRun: false, applied, secret };
}
