import { createApp } from "./app";
import { consumeEvents } from "./stripe-sync";
import { clockFrom, systemClock } from "./clock";
import { runCron } from "./cron";
import type { Env, EventMessage } from "./env";
import { consumeOutbound } from "./outbound";
import { services } from "./wiring";

const app = createApp();
const OUTBOUND_QUEUE = "outbound-webhooks";

export default {
  fetch: app.fetch,
  async queue(batch, env, ctx) {
    const s = services(env, systemClock, { waitUntil: (p) => ctx.waitUntil(p) });
    // outbound-webhooks: deliver what is due. stripe-events and its dead letter queue: store the batch, ack what is stored, process.
    if (batch.queue === OUTBOUND_QUEUE) return consumeOutbound(s, batch);
    await consumeEvents(s, batch as MessageBatch<EventMessage>);
  },
  async scheduled(controller, env, ctx) {
    // The cron's clock starts at its scheduled time, so a delayed or replayed run decides what
    // is due as of when it was meant to run (and tests can run one "later").
    const s = services(env, clockFrom(controller.scheduledTime), { waitUntil: (p) => ctx.waitUntil(p) });
    ctx.waitUntil(runCron(controller.cron, s));
  },
} satisfies ExportedHandler<Env>;
