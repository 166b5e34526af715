import type { IncomingMessage, ServerResponse } from "node:http";
import type { Core } from "./core.ts";
import { invalidRequest, missingParameter, resourceMissing, StripeApiError, unknownParameter } from "./errors.ts";
import { automaticallyUpdateCard, cardDeclineOf, setRecovery } from "./resources/payment-methods.ts";
import { isJsonRecord, parseForm, validate, s, str, type Params } from "./form.ts";
import { checkoutPage, invoicePage, portalPage } from "./pages.ts";
import { completeCheckoutSession, completeFields } from "./resources/checkout.ts";
import { portalAllowsCancel } from "./resources/portal.ts";
import { emptyState, serializeState } from "./store.ts";
import type { ChaosOptions } from "./webhooks/deliver.ts";
import { checkSmartRetries, diff, SmartRetriesInvalid, type SmartRetryOptions } from "./core.ts";
import { clone } from "./store.ts";
import { runDue } from "./billing/scheduler.ts";
import { scheduleOf } from "./billing/schedules.ts";
import { FRAUD_TYPES, isFraudType, raiseEarlyFraudWarning } from "./billing/fraud-warnings.ts";
import { DISPUTE_REASONS, openDispute } from "./billing/disputes.ts";

/**
 * Emulator-only endpoints under /_emulator/ (no API key: they exist for tests and demos):
 * state dump, reset, chaos switch, the count of API requests served, delivery log and idle wait, a declining card's recovery, a
 * card network's automatic update of a saved card, an issuer's dispute of a charge or early fraud
 * warning on one, Stripe's retries per test clock, and the hosted HTML pages.
 */
function json(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value, null, 2);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

function html(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { "content-type": "text/html; charset=utf-8", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

function parseBody(text: string, contentType: string | undefined): Record<string, unknown> {
  if (text.trim() === "") return {};
  if (contentType?.includes("application/json")) {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? Object.fromEntries(Object.entries(parsed)) : {};
  }
  return parseForm(text);
}

/** A control endpoint's JSON (or form) body, with only the keys it takes (400 for any other). */
async function readParams(req: IncomingMessage, readBody: (req: IncomingMessage) => Promise<string>, allowed: readonly string[]): Promise<Record<string, unknown>> {
  let body: Record<string, unknown>;
  try {
    body = parseBody(await readBody(req), req.headers["content-type"]);
  } catch {
    throw invalidRequest("The body is not valid JSON.");
  }
  for (const key of Object.keys(body)) if (!allowed.includes(key)) throw unknownParameter(key);
  return body;
}

export function chaosFromJson(body: Record<string, unknown>): ChaosOptions | null {
  if (body.enabled === false || body.enabled === "false") return null;
  const num = (v: unknown): number | undefined => (typeof v === "number" ? v : typeof v === "string" && v !== "" ? Number(v) : undefined);
  const out: ChaosOptions = {};
  const seed = num(body.seed);
  const failureRate = num(body.failureRate);
  const maxCopies = num(body.maxCopies);
  const shuffleWindowMs = num(body.shuffleWindowMs);
  if (seed !== undefined) out.seed = seed;
  if (failureRate !== undefined) out.failureRate = failureRate;
  if (maxCopies !== undefined) out.maxCopies = maxCopies;
  if (shuffleWindowMs !== undefined) out.shuffleWindowMs = shuffleWindowMs;
  return out;
}

/** A whole number ≥ 0 from JSON (number) or a form (string); absent/null → null. */
function wholeOrNull(v: unknown, param: string): number | null {
  if (v === undefined || v === null || v === "") return null;
  const n = typeof v === "number" ? v : typeof v === "string" && /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw invalidRequest(`Invalid ${param}: must be a whole number ≥ 0, got ${JSON.stringify(v)}.`, param);
  return n;
}

function recoveryView(core: Core, pmId: string): Record<string, unknown> {
  const rec = core.state.paymentMethodRecovery.get(pmId);
  const decline = cardDeclineOf(core, pmId);
  return {
    payment_method: pmId,
    decline_code: decline?.declineCode ?? decline?.code ?? null,
    recover: rec ? { after_attempts: rec.afterAttempts, at: rec.at } : null,
    attempts: rec?.attempts ?? null,
  };
}

function smartRetriesWire(o: SmartRetryOptions | null): { schedule_days: number[]; after_last_retry: string } | null {
  return o ? { schedule_days: [...o.scheduleDays], after_last_retry: o.afterLastRetry } : null;
}

/** The clock's own setting and what its customers' invoices actually follow (own, else global). */
function clockRetriesView(core: Core, clockId: string): Record<string, unknown> {
  return {
    test_clock: clockId,
    smart_retries: smartRetriesWire(core.clockSmartRetries.get(clockId) ?? null),
    effective: smartRetriesWire(core.smartRetriesFor(clockId)),
  };
}

export async function handleControl(core: Core, req: IncomingMessage, res: ServerResponse, url: URL, readBody: (req: IncomingMessage) => Promise<string>): Promise<void> {
  const method = req.method ?? "GET";
  const path = url.pathname;
  const segs = path.split("/").filter(Boolean);
  try {
    if (method === "GET" && path === "/_emulator/state") {
      const state: unknown = JSON.parse(serializeState(core.state));
      return json(res, 200, { now: core.realNow(), state });
    }
    if (method === "POST" && path === "/_emulator/reset") {
      core.deliverer.clear();
      core.replaceState(emptyState());
      return json(res, 200, { reset: true });
    }
    if (method === "POST" && path === "/_emulator/chaos") {
      const body = parseBody(await readBody(req), req.headers["content-type"]);
      core.deliverer.setChaos(chaosFromJson(body));
      return json(res, 200, { chaos: core.deliverer.getChaos() });
    }
    if (method === "GET" && path === "/_emulator/chaos") return json(res, 200, { chaos: core.deliverer.getChaos() });
    if (method === "GET" && path === "/_emulator/deliveries") return json(res, 200, { idle: core.deliverer.isIdle(), deliveries: core.deliverer.log() });
    if (method === "GET" && path === "/_emulator/deliveries/idle") {
      const timeout = Number(url.searchParams.get("timeout_ms") ?? "30000");
      const idle = await Promise.race([core.deliverer.idle().then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), timeout))]);
      return json(res, idle ? 200 : 408, { idle });
    }
    if (method === "GET" && path === "/_emulator/requests") {
      const byMethod = Object.fromEntries([...core.requestCounts].sort(([a], [b]) => a.localeCompare(b)));
      return json(res, 200, { total: Object.values(byMethod).reduce((a, b) => a + b, 0), by_method: byMethod });
    }
    if (method === "POST" && path === "/_emulator/tick") {
      const steps = runDue(core, null, core.realNow());
      return json(res, 200, { steps });
    }
    if (segs[1] === "payment_methods" && segs[2] && segs[3] === "recover" && segs.length === 4 && (method === "POST" || method === "DELETE")) {
      const pm = core.state.paymentMethods.get(segs[2]);
      if (!pm) throw resourceMissing("payment_method", segs[2]);
      if (method === "DELETE") {
        core.state.paymentMethodRecovery.delete(pm.id);
        return json(res, 200, recoveryView(core, pm.id));
      }
      const body = await readParams(req, readBody, ["after_attempts", "at"]);
      setRecovery(core, pm, { afterAttempts: wholeOrNull(body.after_attempts, "after_attempts"), at: wholeOrNull(body.at, "at") }, "after_attempts");
      return json(res, 200, recoveryView(core, pm.id));
    }
    if (segs[1] === "payment_methods" && segs[2] && segs[3] === "automatic_update" && segs.length === 4 && method === "POST") {
      const pm = core.state.paymentMethods.get(segs[2]);
      if (!pm) throw resourceMissing("payment_method", segs[2]);
      const body = await readParams(req, readBody, ["exp_month", "exp_year", "last4"]);
      const last4 = body.last4 === undefined || body.last4 === null ? null : String(body.last4);
      return json(res, 200, automaticallyUpdateCard(core, pm, { expMonth: wholeOrNull(body.exp_month, "exp_month"), expYear: wholeOrNull(body.exp_year, "exp_year"), last4 }));
    }
    if (segs[1] === "charges" && segs[2] && segs[3] === "early_fraud_warning" && segs.length === 4 && method === "POST") {
      const charge = core.state.charges.get(segs[2]);
      if (!charge) throw resourceMissing("charge", segs[2], "charge");
      const body = await readParams(req, readBody, ["fraud_type"]);
      const fraudType = body.fraud_type ?? "made_with_stolen_card";
      if (!isFraudType(fraudType)) throw invalidRequest(`Invalid fraud_type: must be one of ${FRAUD_TYPES.join(", ")}, got ${JSON.stringify(fraudType)}.`, "fraud_type");
      const customer = typeof charge.customer === "string" ? charge.customer : (charge.customer?.id ?? null);
      return json(res, 200, raiseEarlyFraudWarning(core, charge, fraudType, core.nowForCustomer(customer), null));
    }
    if (segs[1] === "charges" && segs[2] && segs[3] === "dispute" && segs.length === 4 && method === "POST") {
      const charge = core.state.charges.get(segs[2]);
      if (!charge) throw resourceMissing("charge", segs[2]);
      const body = await readParams(req, readBody, ["reason", "inquiry"]);
      const reason = body.reason === undefined || body.reason === null ? "fraudulent" : String(body.reason);
      if (!(DISPUTE_REASONS as readonly string[]).includes(reason)) throw invalidRequest(`Invalid reason: must be one of ${DISPUTE_REASONS.join(", ")}.`, "reason");
      const inquiry = body.inquiry === true || body.inquiry === "true";
      if (body.inquiry !== undefined && !inquiry && body.inquiry !== false && body.inquiry !== "false") throw invalidRequest("Invalid inquiry: must be true or false.", "inquiry");
      const dispute = openDispute(core, charge, { reason, inquiry }, core.nowForCustomer(typeof charge.customer === "string" ? charge.customer : (charge.customer?.id ?? null)), null);
      return json(res, 200, dispute);
    }
    if (segs[1] === "test_clocks" && segs[2] && segs[3] === "smart_retries" && segs.length === 4 && (method === "GET" || method === "POST" || method === "DELETE")) {
      const clock = core.state.testClocks.get(segs[2]);
      if (!clock) throw resourceMissing("test_clock", segs[2]);
      if (method === "DELETE") core.clockSmartRetries.delete(clock.id);
      if (method === "POST") {
        const params = ["schedule_days", "after_last_retry"];
        const body = await readParams(req, readBody, params);
        for (const key of params) if (body[key] === undefined) throw missingParameter(key);
        try {
          core.clockSmartRetries.set(
            clock.id,
            checkSmartRetries({ scheduleDays: body.schedule_days, afterLastRetry: body.after_last_retry }, { scheduleDays: "schedule_days", afterLastRetry: "after_last_retry" }),
          );
        } catch (e) {
          if (e instanceof SmartRetriesInvalid) throw invalidRequest(e.message, e.field === "scheduleDays" ? "schedule_days" : "after_last_retry");
          throw e;
        }
      }
      return json(res, 200, clockRetriesView(core, clock.id));
    }
    if (method === "GET" && path === "/favicon.ico") {
      // The hosted pages have no icon: say so without an error in the buyer's console.
      res.writeHead(204, { "cache-control": "public, max-age=86400" });
      res.end();
      return;
    }
    if (segs[1] === "checkout" && segs[2]) {
      const session = core.state.checkoutSessions.get(segs[2]);
      if (!session) return html(res, 404, "<h1>No such checkout session</h1>");
      if (method === "GET") return html(res, 200, checkoutPage(core, session));
      if (method === "POST") {
        // A browser sends every field, the ones left empty too (no promotion code, no name): those are absent.
        const raw = Object.fromEntries(Object.entries(parseBody(await readBody(req), req.headers["content-type"])).filter(([, v]) => v !== ""));
        let done: ReturnType<typeof completeCheckoutSession>;
        try {
          done = completeCheckoutSession(core, session.id, validate(raw, completeFields), null);
        } catch (e) {
          // What the buyer sees on the hosted page: the reason, and the way back to the form.
          const message = e instanceof Error ? e.message : String(e);
          return html(
            res,
            400,
            `<h1>Payment not completed</h1><p>${message.replace(/[&<>"]/g, (ch) => `&#${ch.charCodeAt(0)};`)}</p><p><a href="/_emulator/checkout/${encodeURIComponent(session.id)}">Back to checkout</a></p>`,
          );
        }
        const target = (done.success_url ?? "/").replace("{CHECKOUT_SESSION_ID}", done.id);
        res.writeHead(303, { location: target });
        res.end();
        return;
      }
    }
    if (segs[1] === "invoices" && segs[2] && method === "GET") {
      const inv = core.state.invoices.get(segs[2]);
      if (!inv) return html(res, 404, "<h1>No such invoice</h1>");
      return html(res, 200, invoicePage(inv));
    }
    if (segs[1] === "portal" && segs[2]) {
      const session = core.state.portalSessions.get(segs[2]);
      if (!session) return html(res, 404, "<h1>No such portal session</h1>");
      if (method === "GET") return html(res, 200, portalPage(core, session));
      if (method === "POST" && segs[3] === "subscriptions" && segs[4]) {
        const sub = core.state.subscriptions.get(segs[4]);
        if (!sub || sub.customer !== session.customer) return html(res, 404, "<h1>No such subscription</h1>");
        // As with the API, a subscription driven by a schedule cannot change its cancellation here.
        if (scheduleOf(core, sub)) return html(res, 409, "<h1>This subscription is managed by a subscription schedule</h1>");
        if (!portalAllowsCancel(core, session)) return html(res, 403, "<h1>This portal's configuration does not offer cancellation</h1>");
        const p: Params = validate(parseBody(await readBody(req), req.headers["content-type"]), { cancel_at_period_end: s.enum("true", "false") });
        const before = clone(sub);
        const cape = str(p, "cancel_at_period_end") === "true";
        const now = core.nowForCustomer(session.customer);
        sub.cancel_at_period_end = cape;
        sub.cancel_at = cape ? (sub.items.data[0]?.current_period_end ?? null) : null;
        sub.canceled_at = cape ? now : null;
        core.emit({ type: "customer.subscription.updated", data: { object: sub, previous_attributes: diff(before, sub) } }, now, null);
        res.writeHead(303, { location: `/_emulator/portal/${session.id}` });
        res.end();
        return;
      }
    }
    json(res, 404, { error: { type: "invalid_request_error", message: `Unknown emulator endpoint ${method} ${path}` } });
  } catch (err) {
    if (err instanceof StripeApiError) return json(res, err.status, { error: err.body });
    throw err;
  }
}

export { isJsonRecord };
