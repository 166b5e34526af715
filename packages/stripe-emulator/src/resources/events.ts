import type Stripe from "stripe";
import type { Ctx } from "../context.ts";
import { invalidRequest, resourceMissing } from "../errors.ts";
import { int, listFields, s, str, strs, validate } from "../form.ts";
import { matchesRange } from "../list.ts";

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
  const listed = (ev: Stripe.Event): boolean => {
    if (pattern && !pattern.test(ev.type)) return false;
    if (types && !types.includes(ev.type)) return false;
    if ((ctx.core.emittedAtMs.get(ev.id) ?? ctx.core.realNowMs()) < cutoffMs) return false;
    return matchesRange(ev.created, p, "created");
  };
  // Pagination as list.ts's paginate does it over every listed event newest first, walking the
  // log (oldest first) from the cursor only as far as the page and one event past it.
  const log = ctx.core.eventLog;
  const limit = int(p, "limit") ?? 10;
  const cursorAt = (param: "starting_after" | "ending_before"): number | undefined => {
    const id = str(p, param);
    if (id === undefined) return undefined;
    const at = ctx.core.eventPosition.get(id);
    if (at === undefined || !listed(log[at]!)) throw invalidRequest(`No such object: '${id}'`, param, "resource_missing", 400);
    return at;
  };
  const after = cursorAt("starting_after");
  const before = after === undefined ? cursorAt("ending_before") : undefined;
  const data: Stripe.Event[] = [];
  let hasMore = false;
  // Up to `limit` listed events from `start`, walking the log by `step` (+1: newer, -1: older).
  const take = (start: number, step: 1 | -1) => {
    for (let i = start; i >= 0 && i < log.length; i += step) {
      if (!listed(log[i]!)) continue;
      if (data.length === limit) {
        hasMore = true;
        return;
      }
      data.push(log[i]!);
    }
  };
  if (before !== undefined) {
    // The `limit` listed events just newer than the cursor, newest first.
    take(before + 1, 1);
    data.reverse();
  } else take((after ?? log.length) - 1, -1);
  return { object: "list", data, has_more: hasMore, url: "/v1/events" };
}
