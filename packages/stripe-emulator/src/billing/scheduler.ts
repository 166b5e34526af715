import type { Core } from "../core.ts";
import { nextInvoiceAction, nextSubscriptionAction, type DueAction } from "./lifecycle.ts";

/**
 * Runs, in time order, everything due up to `upTo` for one time domain: a test clock's objects
 * (clockId) or the real-time ones (null). For a clock, its frozen_time steps to each action's
 * time while it runs, so events and objects carry the moment the action happened.
 */
export function runDue(core: Core, clockId: string | null, upTo: number): number {
  const clock = clockId ? core.state.testClocks.get(clockId) : undefined;
  let steps = 0;
  for (;;) {
    let best: DueAction | null = null;
    for (const sub of core.state.subscriptions.values()) {
      if (sub.test_clock !== clockId) continue;
      const a = nextSubscriptionAction(core, sub);
      if (a && a.at <= upTo && (best === null || a.at < best.at)) best = a;
    }
    for (const id of core.pendingInvoices) {
      const inv = core.state.invoices.get(id);
      if (!inv || inv.test_clock !== clockId) continue;
      const a = nextInvoiceAction(core, inv);
      if (a && a.at <= upTo && (best === null || a.at < best.at)) best = a;
    }
    if (best === null) break;
    if (clock) clock.frozen_time = Math.max(clock.frozen_time, best.at);
    best.run();
    steps++;
    if (steps > 100_000) throw new Error("scheduler made no progress");
  }
  if (clock) clock.frozen_time = upTo;
  return steps;
}
