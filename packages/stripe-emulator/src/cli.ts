import { parseArgs } from "node:util";
import { startEmulator } from "./index.ts";

/** `stripe-emulator --port 12111 [--forward-to URL] [--state file.json] ...` */
const { values } = parseArgs({
  options: {
    port: { type: "string", default: "12111" },
    host: { type: "string", default: "127.0.0.1" },
    "forward-to": { type: "string" },
    "webhook-secret": { type: "string" },
    state: { type: "string" },
    "secret-key": { type: "string" },
    "tax-rates": { type: "string" },
    chaos: { type: "string" },
    "smart-retries": { type: "string" },
    verbose: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});

if (values.help) {
  console.log(`Usage: stripe-emulator [options]
  --port <n>              port to listen on (0 = any free port; default 12111)
  --host <addr>           interface (default 127.0.0.1)
  --forward-to <url>      create a webhook endpoint for every event and print its whsec_ secret
  --webhook-secret <s>    use this whsec_ secret for --forward-to instead of a random one
  --state <file.json>     load state from and save it to this file
  --secret-key <sk>       require this API key (default: any sk_test_...)
  --tax-rates <json>      e.g. '{"US-CA":725,"US":0}' (basis points)
  --chaos <json>          e.g. '{"seed":1,"failureRate":0.2,"maxCopies":3,"shuffleWindowMs":200}'
  --smart-retries <json>  Stripe's automatic retries (off by default), e.g.
                          '{"scheduleDays":[3,5,7],"afterLastRetry":"unpaid"}' (or "cancel", "past_due")
  --verbose               log requests`);
  process.exit(0);
}

const em = await startEmulator({
  port: Number(values.port),
  host: values.host,
  forwardTo: values["forward-to"],
  webhookSecret: values["webhook-secret"],
  stateFile: values.state,
  secretKey: values["secret-key"],
  taxRates: values["tax-rates"] ? parseRates(values["tax-rates"]) : undefined,
  chaos: values.chaos ? JSON.parse(values.chaos) : null,
  smartRetries: values["smart-retries"] ? JSON.parse(values["smart-retries"]) : null,
  verbose: values.verbose,
});

function parseRates(text: string): Record<string, number> {
  const parsed: unknown = JSON.parse(text);
  const out: Record<string, number> = {};
  if (typeof parsed === "object" && parsed !== null) for (const [k, v] of Object.entries(parsed)) if (typeof v === "number") out[k] = v;
  return out;
}

console.log(`Stripe emulator listening on ${em.url}`);
console.log(`  secret key:      ${em.secretKey}`);
console.log(`  client config:   new Stripe(key, { host: "${em.host}", port: ${em.port}, protocol: "http", httpClient: Stripe.createFetchHttpClient() })`);
if (em.webhookSecret) console.log(`  forwarding to:   ${values["forward-to"]}\n  webhook secret:  ${em.webhookSecret}`);
console.log(`  state:           ${em.url}/_emulator/state`);

const shutdown = (): void => {
  void em.stop().then(() => process.exit(0));
};
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
