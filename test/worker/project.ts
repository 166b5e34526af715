import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { generateSigningKey } from "../../scripts/keys.ts";

const root = path.resolve(import.meta.dirname, "../..");
const randomHex = (bytes: number) => Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString("hex");

/**
 * Files that read or break the whole database: /health's and the alerts' counts, the compliance
 * report, the audit chain (which they tamper with), outbound webhook endpoints (which hear
 * every user's events, and whose replay counts a time range's), reconciliation (webhooks.test.ts:
 * it stores and processes every event of the Stripe account its database lacks, which in the
 * shared runtime is every event the other slots' files made, so its time grew with the run).
 * Each gets a database of its own
 * (`worker-isolated`); every other file shares one workerd, and its D1, with the files run
 * before it in the same slot (`worker`), which saves starting a runtime and loading the worker's
 * modules per file (the worker suite: about 200 s to 120 s on 2 cores).
 */
export const WHOLE_DATABASE_FILES = [
  "test/worker/health.test.ts",
  "test/worker/monitoring.test.ts",
  "test/worker/compliance.test.ts",
  "test/worker/audit.test.ts",
  "test/worker/outbound-webhooks.test.ts",
  "test/worker/webhooks.test.ts",
];

/** The worker suite in workerd; `isolated` runs WHOLE_DATABASE_FILES, each in a fresh runtime. */
export const workerProject = (isolated: boolean) =>
  defineConfig(async () => {
    const migrations = await readD1Migrations(path.join(root, "migrations"));
    // Fresh signing keys per run: no key material is committed, and rotation tests add their own.
    const signingKeys = { keys: [await generateSigningKey("current"), await generateSigningKey("next")] };
    return {
      plugins: [
        cloudflareTest(({ inject }) => ({
          wrangler: { configPath: path.join(root, "wrangler.toml") },
          miniflare: {
            // wrangler.toml's queues, but a batch goes to the consumer as soon as it is free instead
            // of a second after its first message: most files deliver events one by one and wait
            // for each (stripe-helpers.ts's deliverAll), so every event paid the whole timeout
            // (50 ms, then about a third of the lifecycle files' time).
            queueConsumers: {
              "stripe-events": { maxBatchSize: 100, maxBatchTimeout: 0, maxRetries: 10, retryDelay: 10, deadLetterQueue: "stripe-events-dlq" },
              "stripe-events-dlq": { maxBatchSize: 100, maxBatchTimeout: 1, maxRetries: 100, retryDelay: 3600 },
              "outbound-webhooks": { maxBatchSize: 100, maxBatchTimeout: 0, maxRetries: 3 },
            },
            // DB_RACE is the same database as DB through a second binding: tests race writers on
            // separate D1 handles, as separate isolates would.
            d1Databases: { DB: "00000000-0000-0000-0000-000000000000", DB_RACE: "00000000-0000-0000-0000-000000000000" },
            // Cloudflare Email as Miniflare runs it locally (parses the MIME, checks the allowed
            // addresses): unused while EMAIL_TRANSPORT is log; email-transports.test.ts selects it.
            email: { send_email: [{ name: "EMAIL", allowed_destination_addresses: ["pat@example.com", "sam@example.com"] }] },
            bindings: {
              STRIPE_API_BASE: inject("stripeApiBase"),
              STRIPE_SECRET_KEY: inject("stripeSecretKey"),
              // Two secrets: the worker must accept either while one is being rotated.
              STRIPE_WEBHOOK_SECRETS: "whsec_test_current,whsec_test_previous",
              ENVIRONMENT: "test",
              APP_BASE_URL: "https://app.test",
              ENTITLEMENTS_SIGNING_KEYS: JSON.stringify(signingKeys),
              // Fresh per run, like the signing keys; tests that forge checkpoints use another one.
              AUDIT_CHECKPOINT_SECRET: randomHex(32),
              WEBHOOK_SECRETS_KEY: randomHex(32),
              WEBHOOK_ADMIN_EMAIL: "ops@example.com",
              TEST_MIGRATIONS: migrations,
            },
          },
        })),
      ],
      test: {
        name: isolated ? "worker-isolated" : "worker",
        root,
        // A fresh runtime (and D1) per file only where a file needs one; see WHOLE_DATABASE_FILES.
        isolate: isolated,
        // Three files at once: the suites mostly wait on HTTP, workerd, the emulator and timers, not
        // the CPU (measured on 2 cores: the whole run 490 s one file at a time, 268 s three at once).
        maxWorkers: 3,
        // Three files share two cores, so a suite that takes 2-4 s alone can pass vitest's 5 s.
        testTimeout: 30_000,
        hookTimeout: 60_000,
        include: isolated ? WHOLE_DATABASE_FILES : ["test/worker/**/*.test.ts"],
        exclude: isolated ? [] : WHOLE_DATABASE_FILES,
        setupFiles: ["test/worker/setup.ts"],
        globalSetup: ["test/worker/global-setup.ts", "test/worker/email-server.ts", "test/worker/smtp-server.ts", "test/worker/monitoring-receiver.ts"],
      },
    };
  });
