import type Stripe from "stripe";
import type { Ctx } from "../context.ts";
import { invalidRequest, resourceMissing } from "../errors.ts";
import { int, listFields, s, str, validate } from "../form.ts";
import { newId } from "../ids.ts";
import { paginate } from "../list.ts";
import { runDue } from "../billing/scheduler.ts";
import { cancelSubscriptionNow } from "../billing/lifecycle.ts";

export function createTestClock(ctx: Ctx): Stripe.TestHelpers.TestClock {
  const p = validate(ctx.raw, { frozen_time: s.req(s.ts()), name: s.str() });
  const frozen = int(p, "frozen_time") ?? 0;
  const clock: Stripe.TestHelpers.TestClock = {
    id: newId("clock"),
    object: "test_helpers.test_clock",
    created: ctx.core.realNow(),
    deletes_after: ctx.core.realNow() + 30 * 86_400,
    frozen_time: frozen,
    livemode: false,
    name: str(p, "name") ?? null,
    status: "ready",
    status_details: {},
  };
  ctx.core.state.testClocks.set(clock.id, clock);
  ctx.core.emit({ type: "test_helpers.test_clock.created", data: { object: clock } }, frozen, ctx.request);
  return clock;
}

function requireClock(ctx: Ctx): Stripe.TestHelpers.TestClock {
  const id = ctx.path.id ?? "";
  const clock = ctx.core.state.testClocks.get(id);
  if (!clock) throw resourceMissing("test_helpers.test_clock", id);
  return clock;
}

export function retrieveTestClock(ctx: Ctx): Stripe.TestHelpers.TestClock {
  validate(ctx.raw, {});
  return requireClock(ctx);
}

/**
 * Advancing runs every due action for the clock's customers in time order (see scheduler.ts),
 * synchronously inside this request. The response shows `advancing` as Stripe's does; the
 * clock is `ready` by the time the client can ask again, so polling loops end at once.
 */
export function advanceTestClock(ctx: Ctx): Stripe.TestHelpers.TestClock {
  const p = validate(ctx.raw, { frozen_time: s.req(s.ts()) });
  const clock = requireClock(ctx);
  const target = int(p, "frozen_time") ?? 0;
  if (target <= clock.frozen_time) throw invalidRequest("The frozen_time must be greater than the current frozen_time of the test clock.", "frozen_time");
  if (clock.status !== "ready") throw invalidRequest("The test clock is currently advancing; try again when its status is ready.", undefined, "test_clock_not_ready");
  clock.status = "advancing";
  clock.status_details = { advancing: { target_frozen_time: target } };
  ctx.core.emit({ type: "test_helpers.test_clock.advancing", data: { object: clock } }, clock.frozen_time, ctx.request);
  const response = structuredClone(clock);
  response.frozen_time = target;
  try {
    runDue(ctx.core, clock.id, target);
    clock.status = "ready";
  } catch (err) {
    clock.status = "internal_failure";
    throw err;
  } finally {
    clock.status_details = {};
  }
  ctx.core.emit({ type: "test_helpers.test_clock.ready", data: { object: clock } }, clock.frozen_time, ctx.request);
  return response;
}

export function deleteTestClock(ctx: Ctx): Stripe.TestHelpers.DeletedTestClock {
  validate(ctx.raw, {});
  const clock = requireClock(ctx);
  // Deleting a clock deletes its customers and their subscriptions, as on Stripe.
  for (const sub of ctx.core.state.subscriptions.values()) {
    if (sub.test_clock === clock.id && sub.status !== "canceled") cancelSubscriptionNow(ctx.core, sub, clock.frozen_time, ctx.request, { reason: "cancellation_requested" });
  }
  for (const c of [...ctx.core.state.customers.values()]) {
    if (c.test_clock === clock.id) {
      ctx.core.state.customers.delete(c.id);
      ctx.core.state.deletedCustomers.add(c.id);
    }
  }
  ctx.core.state.testClocks.delete(clock.id);
  ctx.core.emit({ type: "test_helpers.test_clock.deleted", data: { object: clock } }, clock.frozen_time, ctx.request);
  return { id: clock.id, object: "test_helpers.test_clock", deleted: true };
}

export function listTestClocks(ctx: Ctx): Stripe.ApiList<Stripe.TestHelpers.TestClock> {
  const p = validate(ctx.raw, listFields);
  return paginate([...ctx.core.state.testClocks.values()].reverse(), p, "/v1/test_helpers/test_clocks");
}
