import { createRoute, z } from "@hono/zod-openapi";
import { churnRisk, cohortReport, revenueReport, targetProgress } from "../../analytics";
import { listAudit, type Actor } from "../../audit";
import { actorHas, type Permission } from "../../auth";
import { DUNNING_STAGES, dunningReport } from "../../dunning";
import { isDomainError } from "../../errors";
import { actorOf } from "../../http/actor";
import { handle } from "../../http/route";
import * as session from "../../http/session";
import { dashboardPage, type DashboardModel, type FunnelStep, type Maybe } from "./views/dashboard";

const route = createRoute({
  method: "get",
  path: "/dashboard",
  ...session.guard("analytics:read"),
  summary: "The revenue dashboard (HTML; needs a session from /dashboard/login)",
  responses: { 200: { description: "The dashboard", content: { "text/html": { schema: z.string() } } }, 303: { description: "No live session: to the sign-in form" } },
});

/** The trailing year and the month so far, as the report's `YYYY-MM` bounds. */
export function trailingMonths(now: number, months = 12): { from: string; to: string } {
  const d = new Date(now);
  const label = (t: number) => `${Math.floor(t / 12)}-${String((t % 12) + 1).padStart(2, "0")}`;
  const t = d.getUTCFullYear() * 12 + d.getUTCMonth();
  return { from: label(t - months), to: label(t) };
}

/** Funnel order: opened (no stage yet), then the policy's stages in the order they happen. */
const FUNNEL = ["none", ...DUNNING_STAGES] as const;

function funnel(byStage: { stage: string; cases: number; recovered: number }[]): FunnelStep[] {
  const at = (i: number) => byStage.filter((r) => FUNNEL.indexOf(r.stage as (typeof FUNNEL)[number]) >= i);
  return FUNNEL.map((stage, i) => ({
    stage: stage === "none" ? "payment_failed" : stage,
    reached: at(i).reduce((n, r) => n + r.cases, 0),
    recovered: at(i).reduce((n, r) => n + r.recovered, 0),
  }));
}

/**
 * One section's data, or why it is missing: a section the key's role may not read, or whose
 * figures do not exist yet (`unavailable`), leaves its place empty instead of failing the page.
 */
async function section<T>(actor: Actor, permission: Permission, load: () => Promise<T>): Promise<Maybe<T>> {
  if (!actorHas(actor, permission)) return { ok: false, reason: `this key's role may not read it (needs ${permission})` };
  try {
    return { ok: true, value: await load() };
  } catch (e) {
    if (isDomainError(e, "unavailable")) return { ok: false, reason: e.message };
    throw e;
  }
}

const OPEN_CASES_SHOWN = 500;

export default handle(route, async (c) => {
  const s = c.get("services");
  const actor = actorOf(c);
  const range = trailingMonths(s.clock.now());
  const [report, cohorts, risk, targets, dunning, recent] = await Promise.all([
    section(actor, "analytics:read", () => revenueReport(s, { period: "monthly", ...range })),
    section(actor, "analytics:read", () => cohortReport(s, range)),
    section(actor, "analytics:read", () => churnRisk(s, { limit: 20 })),
    section(actor, "analytics:read", () => targetProgress(s)),
    section(actor, "dunning:read", async () => {
      const r = await dunningReport(s.db, OPEN_CASES_SHOWN);
      return { steps: funnel(r.byStage), open: r.open.length };
    }),
    section(actor, "audit:read", async () =>
      (await listAudit(s.db, { limit: 15 })).rows.map((r) => ({ at: r.at, action: r.action, subject: `${r.subjectType} ${r.subjectId}`, actor: `${r.actorType} ${r.actorId}` })),
    ),
  ]);
  const model: DashboardModel = { signedIn: { name: actor.name ?? actor.id, role: actor.role ?? "none" }, report, cohorts, risk, targets, funnel: dunning, recent };
  return c.html(dashboardPage(model), 200);
});
