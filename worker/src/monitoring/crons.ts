/**
 * The last run of each cron, so a cron that stopped (a trigger removed from wrangler.toml, a
 * deployment without crons, a job that dies at once) shows on /health and alerts. runCron writes
 * a row when a run starts and when it ends; runs overlap (a slow sweep and the next minute's),
 * so each write is an upsert that only moves a time forward.
 */
import { sql } from "drizzle-orm";
import { cronRuns } from "../db/schema";
import { describeError } from "../log";
import type { Services } from "../services";

type Deps = Pick<Services, "db" | "clock">;

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/**
 * How long after its last start each cron counts as not running: its interval plus slack for a
 * delayed trigger and a long run. Data, so a deployment with other schedules changes one place.
 */
export const CRON_MAX_GAP_MS: Readonly<Record<string, number>> = { sweep: 5 * MINUTE, dunning: 35 * MINUTE, reconcile: 26 * HOUR };

export async function recordCronStart(s: Deps, cron: string): Promise<number> {
  const at = s.clock.now();
  await s.db
    .insert(cronRuns)
    .values({ cron, lastStartedAt: at })
    .onConflictDoUpdate({ target: cronRuns.cron, set: { lastStartedAt: sql`max(coalesce(${cronRuns.lastStartedAt}, 0), excluded.last_started_at)` } })
    .run();
  return at;
}

/** Only a run that finished after the one recorded replaces its outcome. */
export async function recordCronFinish(s: Deps, cron: string, error: unknown, failed = error !== undefined): Promise<void> {
  const at = s.clock.now();
  const values = { cron, lastFinishedAt: at, lastOk: !failed, lastError: failed ? describeError(error).slice(0, 1000) : null };
  await s.db
    .insert(cronRuns)
    .values(values)
    .onConflictDoUpdate({
      target: cronRuns.cron,
      set: { lastFinishedAt: sql`excluded.last_finished_at`, lastOk: sql`excluded.last_ok`, lastError: sql`excluded.last_error` },
      setWhere: sql`coalesce(${cronRuns.lastFinishedAt}, 0) <= excluded.last_finished_at`,
    })
    .run();
}

export interface CronStatus {
  cron: string;
  last_started_at: number | null;
  last_finished_at: number | null;
  /** Whether the run that finished last succeeded; null before one finished. */
  last_ok: boolean | null;
  last_error: string | null;
  /** Started longer ago than its gap allows; or never, while another cron shows the crons have been running that long. */
  overdue: boolean;
}

/**
 * Every cron in `gaps` (default CRON_MAX_GAP_MS), from one read of the small cron_runs table.
 * A cron that never ran is overdue only once some cron has been recorded for longer than its
 * gap: a fresh deployment or database is not "down", but a trigger missing next to working ones is.
 */
export async function cronStatuses(s: Deps, gaps: Readonly<Record<string, number>> = CRON_MAX_GAP_MS): Promise<CronStatus[]> {
  const now = s.clock.now();
  const rows = new Map((await s.db.select().from(cronRuns).all()).map((r) => [r.cron, r]));
  const firstSeen = Math.min(...Object.keys(gaps).map((c) => rows.get(c)?.lastStartedAt ?? Infinity));
  return Object.entries(gaps).map(([cron, gap]) => {
    const r = rows.get(cron);
    const started = r?.lastStartedAt ?? null;
    const overdue = started !== null ? now - started > gap : Number.isFinite(firstSeen) && now - firstSeen > gap;
    return { cron, last_started_at: started, last_finished_at: r?.lastFinishedAt ?? null, last_ok: r?.lastOk ?? null, last_error: r?.lastError ?? null, overdue };
  });
}
