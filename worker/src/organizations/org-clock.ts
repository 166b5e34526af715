/**
 * Now for an organization: a customer on a Stripe test clock lives on that clock's time (as a
 * user does, test-clocks.ts), so proration moments, due dates and reminder days are read on the
 * clock the organization's invoices are made on.
 */
import { eq } from "drizzle-orm";
import { customers } from "../db/schema";
import type { Services } from "../services";
import { clockReader } from "../test-clocks";
import type { OrganizationRow } from "./view";

export type OrgClockDeps = Pick<Services, "db" | "stripe" | "clock" | "log">;

/** The test clock of the organization's customer (the mirror's), or null on real time. */
export async function orgTestClock(db: Services["db"], row: Pick<OrganizationRow, "customerId">): Promise<string | null> {
  if (row.customerId === null) return null;
  const c = await db.select({ clock: customers.testClock }).from(customers).where(eq(customers.id, row.customerId)).get();
  return c?.clock ?? null;
}

/** Now (ms) for the organization. */
export async function orgNow(deps: OrgClockDeps, row: Pick<OrganizationRow, "customerId">): Promise<number> {
  return clockReader(deps)(await orgTestClock(deps.db, row));
}
