/**
 * Runs the job-board demo app from environment variables:
 *
 *   BILLING_SERVICE_KEY=fja_... npx tsx examples/job-board/src/server.ts
 *
 * See ../README.md for every variable (BILLING_URL, ENTITLEMENTS_ISSUER, ENTITLEMENTS_AUDIENCE,
 * JOB_BOARD_PORT, JOB_BOARD_HOST, JOB_BOARD_ORIGIN, JOB_BOARD_SESSION_SECRET, JOB_BOARD_WEBHOOK_SECRET,
 * JOB_BOARD_WEBHOOK_ENDPOINT_ID, BILLING_ADMIN_KEY).
 */
import { configFromEnv, ConfigError, startJobBoard } from "./index.ts";

try {
  const config = configFromEnv();
  const running = await startJobBoard(config);
  console.log(`  Job board (demo):  ${running.origin}   (worker ${config.billingUrl}; iss ${config.issuer}, aud ${config.audience})`);
  if (running.webhook)
    console.log(`  Webhooks:          ${running.webhook.url} (${running.webhook.action} endpoint ${running.webhook.id}; JOB_BOARD_WEBHOOK_ENDPOINT_ID=${running.webhook.id} and its secret reuse it)`);
  else if (running.webhookError) console.log(`  Webhooks:          not registered: ${running.webhookError}; decisions follow the changes feed`);
  else if (config.webhookSecret) console.log(`  Webhooks:          receiving at ${running.origin}/webhooks/billing`);
  const stop = () => {
    running.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
} catch (e) {
  console.error(`job-board: ${e instanceof ConfigError ? e.message : e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}
