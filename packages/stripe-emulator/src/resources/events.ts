import type Stripe from "stripe";
import type { Ctx } from "../context.ts";
import { resourceMissing } from "../errors.ts";
import { listFields, s, str, strs, validate } from "../form.ts";
import { matchesRange, paginate } from "../list.ts";

const THIRTY_DAYS = 30 * 86_400;

export function retrieveEvent(ctx: Ctx): Stripe.Event {
  validate(ctx.raw, {});
  const id = ctx.path.id ?? "";
  const ev = ctx.core.state.events.get(id);
  if (!ev) throw resourceMissing("event", id);
  return ev;
}

/** Events list: newest first, `type` (with `*` wildcards) or `types[]`, `created` range; 30-day window. */
export function listEvents(ctx: Ctx): Stripe.ApiList<Stripe.Event> {
  const p = validate(ctx.raw, { ...listFields, type: s.str(), types: s.arr(s.str()), delivery_success: s.bool() });
  const type = str(p, "type");
  const types = strs(p, "types");
  const pattern = type !== undefined ? new RegExp(`^${type.replace(/\./g, "\\.").replace(/\*/g, ".*")}$`) : undefined;
  // The 30-day window is measured on when the event was emitted (wall time): test-clock events
  // carry simulated `created` timestamps and must stay listable for reconciliation.
  const cutoffMs = ctx.core.realNowMs() - THIRTY_DAYS * 1000;
  const all = [...ctx.core.state.events.values()].reverse().filter((ev) => {
    if (pattern && !pattern.test(ev.type)) return false;
    if (types && !types.includes(ev.type)) return false;
    if ((ctx.core.emittedAtMs.get(ev.id) ?? ctx.core.realNowMs()) < cutoffMs) return false;
    return matchesRange(ev.created, p, "created");
  });
  return paginate(all, p, "/v1/events");
}
