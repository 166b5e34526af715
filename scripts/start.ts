/**
 * npm start: everything a newcomer needs to run the billing worker locally, offline.
 * 1. .dev.vars with local secrets (signing keys, emulator key, webhook secret, audit checkpoint
 *    secret) when missing;
 * 2. local D1 migrations;
 * 3. a local admin key when none exists (kept in .wrangler/local-admin-key, gitignored);
 * 4. the Stripe emulator on :12111 with the catalog's prices, forwarding webhooks to the worker;
 * 5. wrangler dev on :8787 with scheduled-event testing on.
 */
import { spawn } from "node:child_process";
import { access, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import Stripe from "stripe";
import { startEmulator } from "../packages/stripe-emulator/src/index.ts";
import { catalog } from "../worker/src/catalog.ts";
import { createKey, readLocalAdminKey, saveLocalAdminKey } from "./apikey.ts";
import { hashKey } from "../worker/src/auth/keys.ts";
import { d1, lit, migrate, ROOT } from "./d1.ts";
import { generateSigningKey } from "./keys.ts";

const PORT = Number(process.env.PORT ?? 8787);
const EMULATOR_PORT = Number(process.env.EMULATOR_PORT ?? 12111);
const exists = (p: string) => access(p).then(() => true, () => false);

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
  const placeholder = (k: string) => !vars.get(k) || /replace_me|"keys":\[\]/.test(vars.get(k)!);
  const defaults: Record<string, () => Promise<string> | string> = {
    ENVIRONMENT: () => "development",
    APP_BASE_URL: () => `http://127.0.0.1:${PORT}`,
    STRIPE_SECRET_KEY: () => "sk_test_emulator",
    STRIPE_API_BASE: () => `http://127.0.0.1:${EMULATOR_PORT}`,
    STRIPE_WEBHOOK_SECRETS: () => `whsec_local_${Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("hex")}`,
    ENTITLEMENTS_SIGNING_KEYS: async () => JSON.stringify({ keys: [await generateSigningKey("current")] }),
    AUDIT_CHECKPOINT_SECRET: () => Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("hex"),
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
  const value = (name: string) =>
    vars.get(name) ?? new RegExp(`^${name}\\s*=\\s*"([^"]*)"`, "m").exec(toml)?.[1] ?? "(unset: the worker's default)";
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

/** The emulator gets the catalog's products and prices (by lookup key), as Stripe would have them. */
async function seedCatalog(stripe: Stripe): Promise<void> {
  for (const tier of catalog.tiers) {
    const existing = await stripe.prices.list({ lookup_keys: tier.prices.map((p) => p.lookupKey), limit: 10 });
    const have = new Set(existing.data.map((p) => p.lookup_key));
    const missing = tier.prices.filter((p) => !have.has(p.lookupKey));
    if (missing.length === 0) continue;
    const product = await stripe.products.create({ name: `Federal Job Advisor ${tier.name}`, metadata: { tier: tier.key } });
    for (const p of missing) {
      await stripe.prices.create({ product: product.id, currency: p.unit.currency, unit_amount: p.unit.amount, recurring: { interval: p.interval }, lookup_key: p.lookupKey, metadata: { tier: tier.key } });
    }
  }
}

async function main() {
  const vars = await ensureDevVars();
  console.log("Applying local D1 migrations...");
  await migrate("local");
  const adminKey = await ensureAdminKey();
  const token = await tokenIssuerAudience(vars);

  const secretKey = vars.get("STRIPE_SECRET_KEY")!;
  const emulator = await startEmulator({
    port: EMULATOR_PORT,
    secretKey,
    forwardTo: `http://127.0.0.1:${PORT}/webhooks/stripe`,
    webhookSecret: vars.get("STRIPE_WEBHOOK_SECRETS")!.split(",")[0]!,
    stateFile: path.join(ROOT, ".wrangler", "emulator-state.json"),
  });
  const stripe = new Stripe(secretKey, { httpClient: Stripe.createFetchHttpClient(), host: "127.0.0.1", port: EMULATOR_PORT, protocol: "http" });
  await seedCatalog(stripe);

  const wrangler = spawn(path.join(ROOT, "node_modules", ".bin", "wrangler"), ["dev", "--port", String(PORT), "--ip", "127.0.0.1", "--test-scheduled"], {
    cwd: ROOT,
    stdio: ["inherit", "pipe", "inherit"],
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
  });
  let announced = false;
  wrangler.stdout.on("data", (chunk: Buffer) => {
    process.stdout.write(chunk);
    if (!announced && /Ready on/i.test(chunk.toString())) {
      announced = true;
      const url = `http://127.0.0.1:${PORT}`;
      console.log(
        [
          "",
          `  Billing worker:   ${url}   (health: ${url}/health, API: ${url}/openapi.json)`,
          `  Stripe emulator:  ${emulator.url}   (key ${secretKey}; state: ${emulator.url}/_emulator/state)`,
          `  Admin API key:    ${adminKey}`,
          `  Entitlements:     iss ${token.iss}   aud ${token.aud}   (issuer and audience for createEntitlements)`,
          `  Try:              curl -H "Authorization: Bearer ${adminKey}" ${url}/v1/events`,
          `  Cron:             curl "${url}/__scheduled?cron=*+*+*+*+*"`,
          "",
        ].join("\n"),
      );
    }
  });
  const stop = async () => {
    wrangler.kill("SIGINT");
    await emulator.stop();
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  wrangler.on("exit", async (code) => {
    await emulator.stop().catch(() => undefined);
    process.exit(code ?? 0);
  });
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
