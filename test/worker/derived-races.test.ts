import { env } from "cloudflare:test";
import { asc, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { Stripe } from "../../worker/src/stripe-sync/stripe";
import { emptyFetched, writeObjects, type SyncCause } from "../../worker/src/stripe-sync/sync";
import { chargeOfInvoice } from "../../worker/src/stripe-sync";
import { auditLog, entitlements, subscriptionHistory, subscriptions } from "../../worker/src/db/schema";
import { gatedD1 } from "./gated-d1";
import { svc } from "./helpers";
import { db, stripe, subscriber } from "./stripe-helpers";

const why = (cause: string): SyncCause => ({ actor: { type: "system", id: "race-test" }, cause, at: Date.now() });

/** A copy of a real emulator subscription under a new id and user, in the given status. */
function variant(template: Stripe.Subscription, id: string, userId: string, status: Stripe.Subscription.Status): Stripe.Subscription {
  return {
    ...template,
    id,
    status,
    metadata: { ...template.metadata, user_id: userId },
    ...(status === "canceled" ? { canceled_at: template.created + 86_400 * 40, ended_at: template.created + 86_400 * 40 } : {}),
  };
}

function fetchedSub(sub: Stripe.Subscription, syncedAt: number) {
  const f = emptyFetched();
  f.subscriptions.set(sub.id, { sub, coupon: null, syncedAt });
  return f;
}

/** Each audit row of a subject must start where the previous one ended: no change that did not happen. */
async function auditChainOf(subjectId: string) {
  const rows = await db().select().from(auditLog).where(eq(auditLog.subjectId, subjectId)).orderBy(asc(auditLog.seq)).all();
  const parsed = rows.map((r) => ({ before: r.before === null ? null : (JSON.parse(r.before) as Record<string, unknown>), after: JSON.parse(r.after!) as Record<string, unknown> }));
  for (let i = 1; i < parsed.length; i++) expect(parsed[i]!.before, `audit row ${i} of ${subjectId}`).toEqual(parsed[i - 1]!.after);
  return parsed;
}

describe("derived writes under concurrency", () => {
  it("ends with the entitlement of the newest subscription state however two writers on separate D1 handles interleave", async () => {
    const { sub: template } = await subscriber();
    const t0 = Date.now();
    // Round 0 lets the stale writer finish first and counts its queries; round k then stops it
    // before its k-th query while the newer writer runs to the end.
    let steps = 0;
    for (let k = 0; k <= steps; k++) {
      const id = `sub_race_${t0}_${k}`;
      const userId = `user_race_${t0}_${k}`;
      await writeObjects(svc(), why("seed"), fetchedSub(variant(template, id, userId, "past_due"), t0));
      expect((await db().select().from(entitlements).where(eq(entitlements.userId, userId)).get())?.status).toBe("past_due");

      // The stale writer saw the subscription active (fetched at t0 + 1); the newer one saw it
      // canceled (fetched at t0 + 2). Stripe's newest state is canceled.
      const gate = gatedD1(env.DB_RACE);
      const stale = writeObjects(svc(undefined, gate.d1), why("stale"), fetchedSub(variant(template, id, userId, "active"), t0 + 1));
      if (k === 0 && steps === 0) {
        gate.allow(Number.POSITIVE_INFINITY);
        await stale;
        steps = gate.started;
        expect(steps).toBeGreaterThan(3);
        await writeObjects(svc(), why("newer"), fetchedSub(variant(template, id, userId, "canceled"), t0 + 2));
      } else {
        gate.allow(k - 1);
        await gate.reached(k);
        await writeObjects(svc(), why("newer"), fetchedSub(variant(template, id, userId, "canceled"), t0 + 2));
        gate.allow(Number.POSITIVE_INFINITY);
        await stale;
      }

      const sub = await db().select().from(subscriptions).where(eq(subscriptions.id, id)).get();
      const ent = await db().select().from(entitlements).where(eq(entitlements.userId, userId)).get();
      expect(sub?.status, `interleaving after ${k} queries`).toBe("canceled");
      expect(ent?.status, `interleaving after ${k} queries`).toBe("canceled");
      // History: every row is a status the subscription really had, in order, ending canceled.
      const history = (await db().select().from(subscriptionHistory).where(eq(subscriptionHistory.subscriptionId, id)).orderBy(asc(subscriptionHistory.id)).all()).map((h) => h.status);
      expect(history.at(-1)).toBe("canceled");
      expect(history.indexOf("canceled")).toBe(history.length - 1);
      const subAudit = await auditChainOf(id);
      expect(subAudit.at(-1)!.after.status).toBe("canceled");
      const entAudit = await auditChainOf(userId);
      expect(entAudit.at(-1)!.after.status).toBe("canceled");
      expect(entAudit.length).toBe(history.length);
    }
  }, 60_000);

  it("says refund.created once when two syncs of the same charge on separate D1 handles interleave", async () => {
    const { sub } = await subscriber();
    const invoiceId = String(sub.latest_invoice);
    const chargeId = (await chargeOfInvoice(stripe(), invoiceId))!;
    const real = await stripe().refunds.create({ charge: chargeId, amount: 100 });
    const charge = await stripe().charges.retrieve(chargeId);
    const t0 = Date.now();
    // Each round mirrors a new refund (a copy of the real one) that neither writer has seen yet.
    const fetchedRefund = (id: string, syncedAt: number) => {
      const f = emptyFetched();
      f.charges.set(chargeId, { charge, invoiceId, refunds: [{ ...real, id }], creditNotes: [], syncedAt });
      return f;
    };
    let steps = 0;
    for (let k = 0; k <= steps; k++) {
      const id = `re_race_${t0}_${k}`;
      const gate = gatedD1(env.DB_RACE);
      const stale = writeObjects(svc(undefined, gate.d1), why("stale"), fetchedRefund(id, t0 + 1));
      if (k === 0 && steps === 0) {
        gate.allow(Number.POSITIVE_INFINITY);
        await stale;
        steps = gate.started;
        expect(steps).toBeGreaterThan(2);
        await writeObjects(svc(), why("newer"), fetchedRefund(id, t0 + 2));
      } else {
        gate.allow(k - 1);
        await gate.reached(k);
        await writeObjects(svc(), why("newer"), fetchedRefund(id, t0 + 2));
        gate.allow(Number.POSITIVE_INFINITY);
        await stale;
      }
      const actions = (await db().select({ action: auditLog.action }).from(auditLog).where(eq(auditLog.subjectId, id)).orderBy(asc(auditLog.seq)).all()).map((a) => a.action);
      expect(
        actions.filter((a) => a === "refund.created"),
        `interleaving after ${k} queries`,
      ).toHaveLength(1);
      // And no audit row starts from a state the mirror never had.
      await auditChainOf(id);
    }
  }, 60_000);
});
