import { createApp } from "./app";
import { consumeEvents } from "./billing/ingest";
import { runCron } from "./cron";
import type { EventMessage } from "./billing/ingest";
import type { Env } from "./env";

const app = createApp();

export default {
  fetch: app.fetch,
  async queue(batch, env, _ctx) {
    // stripe-events and its dead letter queue: store the batch, ack what is stored, process.
    await consumeEvents(batch as MessageBatch<EventMessage>, env);
  },
  async scheduled(controller, env, ctx) {
    // The cron's clock starts at its scheduled time, so a delayed or replayed run decides what
    // is due as of when it was meant to run (and tests can run one "later").
    const startedAt = Date.now();
    ctx.waitUntil(runCron(controller.cron, env, () => controller.scheduledTime + (Date.now() - startedAt)));
  },
} satisfies ExportedHandler<Env>;
