import { sql } from "drizzle-orm";
import type { Services } from "../services";

/** Whether D1 answers a trivial query, and how long it took. Never throws. */
export async function checkDatabase({ db, clock }: Pick<Services, "db" | "clock">): Promise<{ ok: boolean; latency_ms: number; error?: string }> {
  const started = clock.now();
  try {
    await db.run(sql`select 1`);
    return { ok: true, latency_ms: clock.now() - started };
  } catch {
    return { ok: false, latency_ms: clock.now() - started, error: "D1 query failed" };
  }
}
