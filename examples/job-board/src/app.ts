/**
 * Federal Job Advisor as a customer of the billing worker: a demo Hono app whose searches are
 * gated by the published entitlements SDK (imported by its package name, as any customer would),
 * and whose billing pages call the worker's API with a service key, on the server only.
 *
 *   const app = createApp({ billingUrl, serviceKey, issuer, audience, origin });
 *   await app.request("/jobs/nationwide", { headers: { cookie } });
 */
import { limit as limitOf } from "@federal-job-advisor/entitlements";
import { createTokenManager, type TokenManager } from "@federal-job-advisor/entitlements/manager";
import { requireFeature, type EntitlementVariables } from "@federal-job-advisor/entitlements/hono";
import { applyWebhook, verifyWebhook, type WebhookEvent } from "@federal-job-advisor/entitlements/webhooks";
import { readFileSync } from "node:fs";
import { Hono, type Context, type MiddlewareHandler } from "hono";
import { deleteCookie, getSignedCookie, setSignedCookie } from "hono/cookie";
import { csrf } from "hono/csrf";
import { HTTPException } from "hono/http-exception";
import { secureHeaders } from "hono/secure-headers";
import { billingClient, BillingError, CANCELLATION_REASONS, isBillingCycle, type BillingCycle, type CancellationReason, type CatalogTier, type ChangePreview } from "./billing-client.ts";
import { resolveConfig, type JobBoardConfig } from "./config.ts";
import { searchJobs } from "./jobs.ts";
import * as views from "./views.ts";
import { WEBHOOK_PATH } from "./webhooks.ts";
import type { DemoUser, SavedSearch, Viewer } from "./views.ts";

/** The worker's feature keys (worker/src/catalog.ts): a misspelled feature is a compile error. */
export type Feature = "local_job_search" | "saved_searches" | "email_alerts" | "nationwide_job_search" | "mobile_app";

type AppEnv = { Variables: EntitlementVariables & { user: DemoUser | null; csrf: string } };

const SESSION_COOKIE = "fja_demo_session";
const USER_ID = /^demo_[a-z0-9_]{1,40}$/;
const TIER = /^[a-z0-9_]{1,32}$/;
/** After a checkout or a plan change, denied answers refetch the token for this long (webhooks may lag). */
const FRESHNESS_WINDOW_MS = 2 * 60_000;
const MAX_SAVED = 20;

const STYLESHEET = readFileSync(new URL("../public/app.css", import.meta.url), "utf8");
// Served so browsers asking for an icon get one instead of a 404 in the console.
const FAVICON = readFileSync(new URL("../public/favicon.svg", import.meta.url), "utf8");

const FLASH: Record<string, string> = {
  changed: "Your plan was changed.",
  canceled: "Your subscription will end at the end of the current period. You keep access until then.",
  offer_accepted: "Offer accepted. Thank you for staying!",
  reactivated: "Your subscription renews again.",
  resumed: "Payments resumed.",
  saved: "Search saved.",
  deleted: "Search deleted.",
};

/** `demo_` + the name in lowercase letters, digits and underscores, or null when nothing is left. */
export function demoUserId(name: string): string | null {
  const slug = name
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .slice(0, 40)
    .replace(/_+$/, "");
  return slug ? `demo_${slug}` : null;
}

/** A same-site path to return to after signing in; anything else becomes "/". */
function safeNext(next: unknown): string {
  return typeof next === "string" && /^\/(?![/\\])[\x21-\x7e]*$/.test(next) ? next : "/";
}

async function hmac(secret: string, message: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(message));
  return Buffer.from(mac).toString("base64url");
}

function timingSafeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

const isHttpUrl = (u: string) => /^https?:\/\//i.test(u);

/** A plan named by a link or a form: a known tier shape and, if given, a billing cycle; null otherwise. */
function upgradePlan(tier: string | undefined, cycle: string | undefined): { tier: string; billingCycle: BillingCycle | undefined } | null {
  if (tier === undefined || !TIER.test(tier) || (cycle !== undefined && !isBillingCycle(cycle))) return null;
  return { tier, billingCycle: cycle };
}

export function createApp(input: JobBoardConfig): Hono<AppEnv> {
  const config = resolveConfig(input);
  const entitlements: TokenManager<Feature> = createTokenManager<Feature>({
    baseUrl: config.billingUrl,
    apiKey: config.serviceKey,
    issuer: config.issuer,
    audience: config.audience,
    ...(config.fetch && { fetch: config.fetch }),
    ...(config.changesPollIntervalMs !== undefined && { changes: { intervalMs: config.changesPollIntervalMs } }),
  });
  const billing = billingClient({ baseUrl: config.billingUrl, apiKey: config.serviceKey, fetch: config.fetch });
  const names = new Map<string, string>();
  const saved = new Map<string, SavedSearch[]>();
  const freshUntil = new Map<string, number>();
  let catalogCache: { at: number; tiers: CatalogTier[] } | null = null;

  async function tiers(): Promise<CatalogTier[]> {
    if (catalogCache && Date.now() - catalogCache.at < 60_000) return catalogCache.tiers;
    try {
      const { tiers } = await billing.catalog();
      catalogCache = { at: Date.now(), tiers: [...tiers].sort((a, b) => a.rank - b.rank) };
      return catalogCache.tiers;
    } catch {
      return catalogCache?.tiers ?? [];
    }
  }

  /** The user's access just changed (checkout, plan change): drop the cached token, and keep refetching on denials for a while. */
  function accessChanged(userId: string): void {
    entitlements.invalidate(userId);
    freshUntil.set(userId, Date.now() + FRESHNESS_WINDOW_MS);
  }
  function expectingChange(userId: string): boolean {
    const until = freshUntil.get(userId);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    freshUntil.delete(userId);
    return false;
  }

  const viewer = (c: Context<AppEnv>): Viewer => ({ user: c.get("user"), csrf: c.get("csrf") });
  const page = (c: Context<AppEnv>, body: views.Html, status: 200 | 400 | 401 | 403 | 404 | 409 | 500 | 502 | 503 = 200) => c.html(body, status);

  const app = new Hono<AppEnv>();

  app.use(
    "*",
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'none'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        frameAncestors: ["'none'"],
      },
      referrerPolicy: "same-origin",
      // HSTS means something only over https; a local http origin does without it.
      strictTransportSecurity: config.origin.startsWith("https:") ? "max-age=15552000; includeSubDomains" : false,
    }),
  );
  // User pages are personal: never cached.
  app.use("*", async (c, next) => {
    await next();
    if (c.res.headers.get("content-type")?.startsWith("text/html")) c.header("cache-control", "no-store");
  });
  // Form posts must come from this app's own pages (Origin or Sec-Fetch-Site).
  app.use("*", csrf({ origin: (origin, c) => origin === config.origin || origin === new URL(c.req.url).origin }));

  // The demo session: a signed, HttpOnly, SameSite=Lax cookie holding the user id.
  app.use("*", async (c, next) => {
    const value = await getSignedCookie(c, config.sessionSecret, SESSION_COOKIE);
    const user = typeof value === "string" && USER_ID.test(value) ? { id: value, name: names.get(value) ?? value.slice("demo_".length) } : null;
    c.set("user", user);
    c.set("csrf", user ? await hmac(config.sessionSecret, `csrf:${user.id}`) : "");
    if (user && c.req.method === "POST") {
      const body = await c.req.parseBody();
      const token = typeof body._csrf === "string" ? body._csrf : "";
      if (!timingSafeEqual(token, c.get("csrf"))) {
        return page(c, views.errorPage(viewer(c), "Form expired", "This form is out of date. Go back, reload the page and try again."), 403);
      }
    }
    await next();
  });

  const requireUser: MiddlewareHandler<AppEnv> = async (c, next) => {
    if (c.get("user")) return next();
    if (c.req.method === "GET") return c.redirect(`/signin?next=${encodeURIComponent(c.req.path + (new URL(c.req.url).search || ""))}`, 303);
    return c.redirect("/signin", 303);
  };

  /**
   * The SDK's Hono middleware, answering with pages: an allowed request goes on (the decision and
   * claims are on the context, a past-due answer carries its Entitlement-Warning header); a denied
   * one gets the upgrade prompt, billing link or retry page of its decision, with the status the
   * SDK chose (403, or 503 with Retry-After when entitlements are unavailable).
   */
  function gate(feature: Feature): MiddlewareHandler<AppEnv> {
    const check = requireFeature(entitlements, feature, { userId: (c) => (c as Context<AppEnv>).get("user")?.id });
    return async (c, next) => {
      const run = () => check(c as unknown as Parameters<typeof check>[0], next);
      let denied = await run();
      const userId = c.get("user")?.id;
      if (denied && userId && expectingChange(userId)) {
        entitlements.invalidate(userId);
        denied = await run();
      }
      if (!denied) return;
      if (denied.status === 401) return c.redirect("/signin", 303);
      const decision = c.get("entitlement");
      if (denied.headers.get("retry-after")) c.header("retry-after", denied.headers.get("retry-after")!);
      return page(c, views.deniedPage(viewer(c), decision, feature, c.req.path), denied.status === 503 ? 503 : 403);
    };
  }

  // ---------------------------------------------------------------- static, health, session

  app.get("/static/app.css", (c) => c.body(STYLESHEET, 200, { "content-type": "text/css; charset=utf-8", "cache-control": "public, max-age=3600" }));
  app.get("/static/favicon.svg", (c) => c.body(FAVICON, 200, { "content-type": "image/svg+xml", "cache-control": "public, max-age=86400" }));
  app.get("/favicon.ico", (c) => c.redirect("/static/favicon.svg", 301));
  app.get("/health", (c) => c.text("ok"));

  // ---------------------------------------------------------------- outbound webhooks of the worker

  /**
   * The worker pushes `entitlement.changed` here (signed to the Standard Webhooks spec): the
   * user's cached token goes at once, so their next decision is the new one, in well under a
   * second instead of the next poll of the changes feed. No session, no form: the signature is
   * the authentication. A refused delivery gets a 4xx problem, and the worker retries it.
   */
  app.post(WEBHOOK_PATH, async (c) => {
    const problem = (status: 400 | 404, code: string, detail: string) =>
      c.json({ type: `urn:federal-job-advisor:job-board:${code}`, title: "Webhook refused", status, detail, code }, status, { "content-type": "application/problem+json" });
    if (!config.webhookSecret) return problem(404, "webhooks_not_configured", "This app has no webhook secret (JOB_BOARD_WEBHOOK_SECRET).");
    let event: WebhookEvent;
    try {
      event = await verifyWebhook(await c.req.arrayBuffer(), c.req.raw.headers, config.webhookSecret);
    } catch (err) {
      const code = err instanceof Error && "code" in err && typeof err.code === "string" ? err.code : "ERR_WEBHOOK";
      return problem(400, code.toLowerCase(), err instanceof Error ? err.message : "unreadable delivery");
    }
    applyWebhook(entitlements, event);
    return c.body(null, 204);
  });

  app.get("/", async (c) => {
    const user = c.get("user");
    if (!user) return page(c, views.homePage(viewer(c), null));
    const [{ claims }, catalog] = await Promise.all([entitlements.evaluate(user.id, "local_job_search"), tiers()]);
    return page(c, views.homePage(viewer(c), { claims, tiers: catalog }));
  });

  app.get("/signin", (c) => page(c, views.signInPage(viewer(c), safeNext(c.req.query("next")))));

  app.post("/signin", async (c) => {
    const body = await c.req.parseBody();
    const name = typeof body.name === "string" ? body.name.trim().slice(0, 40) : "";
    const next = safeNext(body.next);
    const id = demoUserId(name);
    if (!id) return page(c, views.signInPage(viewer(c), next, "Type a name with at least one letter or digit."), 400);
    if (names.size >= 10_000) names.delete(names.keys().next().value!); // demo memory stays bounded
    names.set(id, name);
    await setSignedCookie(c, SESSION_COOKIE, id, config.sessionSecret, {
      httpOnly: true,
      sameSite: "Lax",
      secure: config.origin.startsWith("https:"),
      path: "/",
      maxAge: 7 * 86_400,
    });
    return c.redirect(next, 303);
  });

  app.post("/signout", (c) => {
    deleteCookie(c, SESSION_COOKIE, { path: "/", secure: config.origin.startsWith("https:") });
    return c.redirect("/", 303);
  });

  // ---------------------------------------------------------------- searches (gated)

  app.get("/jobs/local", requireUser, gate("local_job_search"), (c) => {
    const claims = c.get("entitlementClaims");
    const limit = claims ? limitOf(claims, "search_radius_miles") : 0;
    const raw = Number.parseInt(c.req.query("radius") ?? "", 10);
    const asked = Number.isFinite(raw) && raw > 0 ? Math.min(raw, 5000) : (limit ?? 50);
    const radius = limit === null ? asked : Math.min(asked, limit);
    const q = (c.req.query("q") ?? "").slice(0, 100);
    const jobs = searchJobs({ q, maxMiles: radius });
    return page(c, views.jobsPage(viewer(c), { scope: "local", q, jobs, radius, limit, asked }, views.decisionBanner(c.get("entitlement"))));
  });

  app.get("/jobs/nationwide", requireUser, gate("nationwide_job_search"), (c) => {
    const q = (c.req.query("q") ?? "").slice(0, 100);
    return page(c, views.jobsPage(viewer(c), { scope: "nationwide", q, jobs: searchJobs({ q, maxMiles: null }) }, views.decisionBanner(c.get("entitlement"))));
  });

  app.get("/saved", requireUser, gate("saved_searches"), (c) => {
    const list = saved.get(c.get("user")!.id) ?? [];
    return page(c, views.savedPage(viewer(c), list, views.decisionBanner(c.get("entitlement")), FLASH[c.req.query("notice") ?? ""]));
  });

  app.post("/saved", requireUser, gate("saved_searches"), async (c) => {
    const body = await c.req.parseBody();
    const scope = body.scope === "nationwide" ? "nationwide" : "local";
    const q = typeof body.q === "string" ? body.q.slice(0, 100) : "";
    const radius = scope === "local" && typeof body.radius === "string" && /^\d{1,4}$/.test(body.radius) ? Number(body.radius) : null;
    const userId = c.get("user")!.id;
    const list = saved.get(userId) ?? [];
    list.unshift({ id: crypto.randomUUID(), scope, q, radius, created: Date.now() });
    saved.set(userId, list.slice(0, MAX_SAVED));
    return c.redirect("/saved?notice=saved", 303);
  });

  app.post("/saved/:id/delete", requireUser, (c) => {
    const userId = c.get("user")!.id;
    saved.set(
      userId,
      (saved.get(userId) ?? []).filter((s) => s.id !== c.req.param("id")),
    );
    return c.redirect("/saved?notice=deleted", 303);
  });

  // ---------------------------------------------------------------- billing

  app.get("/billing", requireUser, async (c) => {
    const userId = c.get("user")!.id;
    const [subscription, invoices, refunds, catalog, evaluation] = await Promise.all([
      billing.subscription(userId),
      billing.invoices(userId),
      billing.refunds(userId),
      tiers(),
      entitlements.evaluate(userId, "local_job_search"),
    ]);
    return page(
      c,
      views.billingPage(viewer(c), {
        subscription,
        invoices: invoices.data,
        refunds: refunds.data,
        tiers: catalog,
        status: evaluation.claims?.status ?? null,
        flash: FLASH[c.req.query("notice") ?? ""],
      }),
    );
  });

  /**
   * An upgrade link (the billing page, a denied page, the token's upgrade URL) only shows what
   * starts; the Checkout Session is made by the form it shows, a POST with the session's form
   * token, so a link or a cross-site page cannot start one.
   */
  app.get("/billing/upgrade", requireUser, async (c) => {
    const plan = upgradePlan(c.req.query("tier"), c.req.query("billing_cycle"));
    const catalog = await tiers();
    if (!plan || !catalog.some((t) => t.key === plan.tier)) return page(c, views.errorPage(viewer(c), "Unknown plan", "That plan does not exist. Pick one on the billing page.", "/billing"), 400);
    return page(c, views.upgradePage(viewer(c), { ...plan, tiers: catalog }));
  });

  app.post("/billing/upgrade", requireUser, async (c) => {
    const user = c.get("user")!;
    const body = await c.req.parseBody();
    const plan = upgradePlan(typeof body.tier === "string" ? body.tier : undefined, typeof body.billing_cycle === "string" ? body.billing_cycle : undefined);
    if (!plan) return page(c, views.errorPage(viewer(c), "Unknown plan", "That plan does not exist. Pick one on the billing page.", "/billing"), 400);
    const { tier, billingCycle } = plan;
    try {
      const session = await billing.checkout({
        userId: user.id,
        email: `${user.id}@demo.example`,
        tier,
        ...(billingCycle && { billingCycle }),
        successUrl: `${config.origin}/billing/success`,
        cancelUrl: `${config.origin}/billing`,
      });
      if (!isHttpUrl(session.url)) throw new BillingError(502, "Billing unavailable", "The billing service gave an answer this page cannot use.", "bad_answer");
      freshUntil.set(user.id, Date.now() + FRESHNESS_WINDOW_MS);
      return c.redirect(session.url, 303);
    } catch (e) {
      if (!(e instanceof BillingError && e.status === 409)) throw e;
    }
    // Already subscribed: change the plan instead, showing what Stripe would charge now.
    const preview = await billing.previewChange(user.id, tier, billingCycle);
    return page(c, views.changePage(viewer(c), { tier, billingCycle, preview, tiers: await tiers() }));
  });

  app.post("/billing/change", requireUser, async (c) => {
    const user = c.get("user")!;
    const body = await c.req.parseBody();
    const tier = typeof body.tier === "string" ? body.tier : "";
    const billingCycle = isBillingCycle(body.billing_cycle) ? body.billing_cycle : undefined;
    const expected = typeof body.expected_amount_due_now === "string" && /^\d{1,9}$/.test(body.expected_amount_due_now) ? Number(body.expected_amount_due_now) : NaN;
    if (!TIER.test(tier) || !Number.isInteger(expected))
      return page(c, views.errorPage(viewer(c), "Invalid form", "The change form was incomplete. Start again from the billing page.", "/billing"), 400);
    try {
      await billing.change(user.id, tier, billingCycle, expected);
    } catch (e) {
      const preview = e instanceof BillingError && e.code === "amount-changed" ? (e.problem.preview as ChangePreview | undefined) : undefined;
      if (!preview) throw e;
      return page(c, views.changePage(viewer(c), { tier, billingCycle, preview, tiers: await tiers(), flash: "The amount changed since you looked. Check the new amount and confirm again." }), 409);
    }
    accessChanged(user.id);
    return c.redirect("/billing?notice=changed", 303);
  });

  app.post("/billing/portal", requireUser, async (c) => {
    const { url } = await billing.portal(c.get("user")!.id, `${config.origin}/billing`);
    if (!isHttpUrl(url)) throw new BillingError(502, "Billing unavailable", "The billing service gave an answer this page cannot use.", "bad_answer");
    return c.redirect(url, 303);
  });

  const reasonOf = (v: unknown): CancellationReason | null => (typeof v === "string" && (CANCELLATION_REASONS as readonly string[]).includes(v) ? (v as CancellationReason) : null);

  app.post("/billing/cancel", requireUser, async (c) => {
    const user = c.get("user")!;
    const reason = reasonOf((await c.req.parseBody()).reason);
    if (!reason) return page(c, views.errorPage(viewer(c), "Invalid form", "Choose why you are leaving.", "/billing"), 400);
    const result = await billing.cancel(user.id, reason, false);
    if (!result.canceled) return page(c, views.offerPage(viewer(c), result.offer, reason));
    accessChanged(user.id);
    return c.redirect("/billing?notice=canceled", 303);
  });

  app.post("/billing/cancel/confirm", requireUser, async (c) => {
    const user = c.get("user")!;
    const reason = reasonOf((await c.req.parseBody()).reason) ?? "other";
    await billing.cancel(user.id, reason, true);
    accessChanged(user.id);
    return c.redirect("/billing?notice=canceled", 303);
  });

  app.post("/billing/offer/accept", requireUser, async (c) => {
    const user = c.get("user")!;
    const offerId = (await c.req.parseBody()).offer_id;
    if (typeof offerId !== "string" || !offerId) return page(c, views.errorPage(viewer(c), "Invalid form", "The offer form was incomplete.", "/billing"), 400);
    await billing.acceptOffer(user.id, offerId);
    accessChanged(user.id);
    return c.redirect("/billing?notice=offer_accepted", 303);
  });

  app.post("/billing/reactivate", requireUser, async (c) => {
    const user = c.get("user")!;
    await billing.reactivate(user.id);
    accessChanged(user.id);
    return c.redirect("/billing?notice=reactivated", 303);
  });

  app.post("/billing/resume", requireUser, async (c) => {
    const user = c.get("user")!;
    await billing.resume(user.id);
    accessChanged(user.id);
    return c.redirect("/billing?notice=resumed", 303);
  });

  app.get("/billing/success", requireUser, async (c) => {
    const user = c.get("user")!;
    accessChanged(user.id);
    const [{ claims }, catalog] = await Promise.all([entitlements.evaluate(user.id, "local_job_search"), tiers()]);
    return page(c, views.successPage(viewer(c), claims, catalog));
  });

  // ---------------------------------------------------------------- errors

  app.notFound((c) => page(c, views.errorPage(viewer(c), "Page not found", "There is no page at this address."), 404));

  app.onError((err, c) => {
    const v: Viewer = { user: c.get("user") ?? null, csrf: c.get("csrf") ?? "" };
    if (err instanceof BillingError) {
      // The worker's problem detail is written for people; a refused service key or a 5xx is ours to fix, not the user's.
      if (err.status === 401 || err.status === 403)
        return page(c, views.errorPage(v, "Billing unavailable", "This app is not allowed to use the billing service right now. Try again later.", "/billing"), 502);
      const status = err.status >= 400 && err.status < 500 ? (err.status as 400 | 404 | 409) : 502;
      return page(c, views.errorPage(v, err.title, err.detail, "/billing"), status);
    }
    if (err instanceof HTTPException && err.status === 403) {
      return page(c, views.errorPage(v, "Request refused", "This form was not sent from this site's own pages."), 403);
    }
    console.error(`job-board: ${c.req.method} ${c.req.path} failed: ${err instanceof Error ? err.message : String(err)}`);
    return page(c, views.errorPage(v, "Something went wrong", "The page could not be shown. Try again in a moment."), 500);
  });

  return app;
}
