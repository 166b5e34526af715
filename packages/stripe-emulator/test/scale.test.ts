import { describe, expect, it } from "vitest";
import { catalog, DAY, receiver, start, T0 } from "./helpers.ts";

describe("scale: many customers on test clocks with chaos", () => {
  it("runs 50 customers × 12 months, delivers every event at least once, and lists reconcile", async () => {
    const h = await start({ chaos: { seed: 3, failureRate: 0.1, maxCopies: 2, shuffleWindowMs: 20 }, retrySchedule: [5, 10, 20, 40, 80] });
    const rx = await receiver();
    try {
      const { secret } = await h.stripe.webhookEndpoints.create({ url: rx.url, enabled_events: ["*"] });
      const { local, mobile } = await catalog(h.stripe);
      const N = 50;
      const clocks = await Promise.all(
        Array.from({ length: N }, async (_, i) => {
          const clock = await h.stripe.testHelpers.testClocks.create({ frozen_time: T0 });
          const customer = await h.stripe.customers.create({
            test_clock: clock.id,
            payment_method: i % 10 === 0 ? "pm_card_chargeCustomerFail" : "pm_card_visa",
            invoice_settings: { default_payment_method: i % 10 === 0 ? "pm_card_chargeCustomerFail" : "pm_card_visa" },
          });
          await h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: i % 2 ? local.id : mobile.id }], trial_period_days: i % 2 ? 7 : 14, metadata: { user_id: `u${i}` } });
          return clock.id;
        }),
      );
      for (let m = 1; m <= 12; m++) {
        await Promise.all(clocks.map((id) => h.stripe.testHelpers.testClocks.advance(id, { frozen_time: T0 + m * 31 * DAY })));
      }
      await h.em.idle();
      const subs: string[] = [];
      for await (const s of h.stripe.subscriptions.list({ status: "all", limit: 100 })) subs.push(s.status);
      expect(subs).toHaveLength(N);
      expect(subs.filter((s) => s === "past_due")).toHaveLength(N / 10);
      let invoices = 0;
      for await (const _ of h.stripe.invoices.list({ limit: 100 })) invoices++;
      expect(invoices).toBeGreaterThanOrEqual(N * 12);
      const eventIds = new Set(h.em.core.state.events.keys());
      const sample = rx.received.slice(0, 50);
      await Promise.all(sample.map((r) => h.stripe.webhooks.constructEventAsync(r.body, r.signature, secret ?? "")));
      const delivered = new Set(rx.received.map((r) => String(JSON.parse(r.body).id)));
      expect(delivered.size).toBe(eventIds.size);
      console.log(`scale: ${N} customers × 12 months, ${eventIds.size} events, ${rx.received.length} deliveries`);
    } finally {
      await h.stop();
      await rx.close();
    }
  }, 120_000);
});
