/**
 * npm run resync -- [--url http://127.0.0.1:8787] [--key fja_...]
 * Rebuilds the worker's Stripe mirror, calling POST /v1/admin/resync until it reports done.
 * Each call is one chunk that fits a Worker's CPU limit; an interrupted run resumes.
 */
import { parseArgs } from "node:util";
import { readLocalAdminKey } from "./apikey.ts";

async function main() {
  const { values } = parseArgs({
    options: { url: { type: "string", default: process.env.BILLING_URL ?? "http://127.0.0.1:8787" }, key: { type: "string" }, restart: { type: "boolean", default: false } },
  });
  const key = values.key ?? process.env.BILLING_ADMIN_KEY ?? (await readLocalAdminKey());
  if (!key) throw new Error("pass --key (an admin API key) or set BILLING_ADMIN_KEY");
  let body: Record<string, unknown> = { restart: values.restart };
  for (;;) {
    const res = await fetch(`${values.url}/v1/admin/resync`, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify(body) });
    const state = (await res.json()) as { phase?: string; counts?: Record<string, number>; detail?: string };
    if (!res.ok) throw new Error(`resync failed (${res.status}): ${state.detail ?? JSON.stringify(state)}`);
    console.log(`phase ${state.phase}: ${JSON.stringify(state.counts)}`);
    if (state.phase === "done") return;
    body = {};
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
