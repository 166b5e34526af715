/**
 * Signed `charge.succeeded` webhooks for the benches that post to the real route: an event the
 * worker stores and marks processed without asking Stripe. Signed up front, so signing is
 * outside the timed part.
 */
import Stripe from "stripe";

export async function signedChargeEvents(count: number, prefix: string, secret: string): Promise<{ body: string; signature: string }[]> {
  const provider = Stripe.createSubtleCryptoProvider();
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const body = JSON.stringify({
        id: `evt_${prefix}_${i}`,
        object: "event",
        api_version: "2026-10-28.endive",
        created: Math.floor(Date.now() / 1000),
        livemode: false,
        pending_webhooks: 1,
        request: { id: null, idempotency_key: null },
        type: "charge.succeeded",
        data: { object: { id: `ch_${prefix}_${i}`, object: "charge", amount: 2900, currency: "usd" } },
      });
      return { body, signature: await Stripe.webhooks.generateTestHeaderStringAsync({ payload: body, secret, cryptoProvider: provider }) };
    }),
  );
}
