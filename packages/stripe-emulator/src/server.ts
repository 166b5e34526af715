import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Core, RequestInfo } from "./core.ts";
import type { Ctx } from "./context.ts";
import { authenticationError, idempotencyMismatch, StripeApiError } from "./errors.ts";
import { expandPaths } from "./expand.ts";
import { parseForm, type Json } from "./form.ts";
import { newId } from "./ids.ts";
import { stripeRoutes } from "./routes.ts";
import { lookupById } from "./store.ts";
import { handleControl } from "./control.ts";
import { runDue } from "./billing/scheduler.ts";

const routes = stripeRoutes();

/** The wire form of a value (Decimal → string, undefined dropped). */
function toJson(v: unknown): Json {
  return JSON.parse(JSON.stringify(v ?? null));
}
const IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000;

/**
 * Stripe's includable properties: computed, and returned only when named in `expand[]`.
 * `amount_paid_off_stripe` of an invoice is what was paid on it outside Stripe (`invoices.pay`
 * with `paid_out_of_band`); this API version has no `paid_out_of_band` field on the Invoice.
 */
function includable(core: Core, node: { [key: string]: Json }, property: string): Json | undefined {
  if (node.object === "invoice" && property === "amount_paid_off_stripe" && typeof node.id === "string") return core.state.invoiceMeta.get(node.id)?.paidOffStripe ?? 0;
  return undefined;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

export function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  // Encoded once: its length and the bytes written come from the same buffer.
  const bytes = Buffer.from(body, "utf8");
  res.writeHead(status, { "content-type": "application/json", "content-length": bytes.length, ...headers });
  res.end(bytes);
}

function checkAuth(core: Core, req: IncomingMessage): void {
  const header = req.headers.authorization;
  let key: string | undefined;
  if (header?.startsWith("Bearer ")) key = header.slice(7).trim();
  else if (header?.startsWith("Basic ")) key = Buffer.from(header.slice(6), "base64").toString("utf8").split(":")[0];
  if (!key) {
    throw authenticationError("You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').");
  }
  const expected = core.options.secretKey;
  const ok = expected !== undefined ? key === expected : /^sk_test_[A-Za-z0-9_]+$/.test(key);
  if (!ok) throw authenticationError(`Invalid API Key provided: ${key.slice(0, 8)}${"*".repeat(Math.max(0, key.length - 12))}${key.slice(-4)}`);
}

/** Runs what is due for objects on real time (not on a test clock), at most once a second. */
let lastTick = new WeakMap<Core, number>();
export function tickRealTime(core: Core): void {
  const now = core.realNow();
  if (lastTick.get(core) === now) return;
  lastTick.set(core, now);
  runDue(core, null, now);
}
export function resetTick(): void {
  lastTick = new WeakMap();
}

async function handleApi(core: Core, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const method = req.method ?? "GET";
  core.countRequest(method);
  const requestId = `req_${newId("r").slice(2, 16)}`;
  const headers: Record<string, string> = { "request-id": requestId, "stripe-version": req.headers["stripe-version"]?.toString() ?? "2026-10-28.endive" };
  const idemKey = method === "POST" ? (req.headers["idempotency-key"]?.toString() ?? null) : null;
  let body = "";
  let idemSlot: string | null = null;
  let fingerprint = "";
  try {
    checkAuth(core, req);
    body = method === "POST" ? await readBody(req) : "";
    if (idemKey !== null) {
      idemSlot = `${req.headers.authorization ?? ""} ${idemKey}`;
      fingerprint = createHash("sha256").update(`${method} ${url.pathname} ${body}`).digest("hex");
      const prior = core.state.idempotency.get(idemSlot);
      if (prior && core.realNowMs() - prior.createdMs < IDEMPOTENCY_TTL_MS) {
        if (prior.fingerprint !== fingerprint) throw idempotencyMismatch(idemKey);
        send(res, prior.status, prior.body, { ...headers, "idempotent-replayed": "true", "original-request": requestId });
        return;
      }
    }
    const raw = method === "POST" ? parseForm(body) : parseForm(url.search.slice(1));
    const match = routes.match(method, url.pathname);
    if (!match.handler) {
      throw new StripeApiError(404, {
        type: "invalid_request_error",
        message: `Unrecognized request URL (${method}: ${url.pathname}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`,
      });
    }
    tickRealTime(core);
    const request: RequestInfo = { id: requestId, idempotencyKey: idemKey };
    const ctx: Ctx = { core, raw, path: match.params, request, method };
    const result = match.handler(ctx);
    const expand = Array.isArray(raw.expand) ? raw.expand.filter((x): x is string => typeof x === "string") : [];
    // Without expansions the answer is the result's own JSON, written in one pass: a copy through
    // JSON first (toJson) wrote and parsed every answer twice, a fifth of the emulator's time.
    const text =
      expand.length > 0
        ? JSON.stringify(
            expandPaths(
              toJson(result),
              expand,
              (id) => {
                const found = lookupById(core.state, id);
                return found === undefined ? undefined : toJson(found);
              },
              (node, property) => includable(core, node, property),
            ),
            null,
            2,
          )
        : JSON.stringify(result ?? null, null, 2);
    if (idemSlot !== null) core.state.idempotency.set(idemSlot, { fingerprint, status: 200, body: text, createdMs: core.realNowMs() });
    send(res, 200, text, headers);
  } catch (err) {
    if (err instanceof StripeApiError) {
      const text = JSON.stringify({ error: { ...err.body, request_log_url: `https://dashboard.stripe.com/test/logs/${requestId}` } }, null, 2);
      // Stripe stores 4xx results under the key too (replaying the same error), but not
      // idempotency errors themselves.
      if (idemSlot !== null && err.body.type !== "idempotency_error" && err.status !== 401) {
        core.state.idempotency.set(idemSlot, { fingerprint, status: err.status, body: text, createdMs: core.realNowMs() });
      }
      send(res, err.status, text, headers);
      return;
    }
    if (core.options.verbose) console.error(err);
    const message = err instanceof Error ? err.message : String(err);
    send(res, 500, JSON.stringify({ error: { type: "api_error", message: `Emulator error: ${message}` } }), headers);
  }
}

export function createEmulatorServer(core: Core): Server {
  return createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (core.options.verbose) console.error(`${req.method} ${url.pathname}${url.search}`);
    const done = url.pathname.startsWith("/v1/") ? handleApi(core, req, res, url) : handleControl(core, req, res, url, readBody);
    done.catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, JSON.stringify({ error: { type: "api_error", message: String(err) } }));
    });
  });
}
