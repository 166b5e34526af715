import { createApp } from "./app";
import type { Env } from "./env";

const app = createApp();

export default {
  fetch: app.fetch,
  async scheduled(controller, env, ctx) {
    // Crons arrive with later issues (dunning tick, reconciliation); each is idempotent.
    void controller;
    void env;
    void ctx;
  },
} satisfies ExportedHandler<Env>;
