/**
 * The agent tools of §9, in one list: the HTTP routes (routes/tools/), GET /v1/tools and the
 * MCP endpoint all read it. Each entry: name, description, input/output zod schemas, the
 * permission a role needs, whether it reads or writes, the seed's example inputs, and
 * `run(services, input, actor)`, which checks the role and the input before anything else.
 *
 * Permissions (auth/permissions.ts): a tool needs what the API route doing the same needs (its
 * declared `twin`), so no role gains anything through a tool.
 * - create_subscription: `billing:write` (admin, service), as POST /v1/checkout (a user's form) and
 *   POST /v1/organizations (an organization's); writes.
 * - process_webhook: `events:replay` (admin), as POST /v1/events/{id}/replay; writes.
 * - manage_dunning_process: `dunning:write` (admin, service); writes (runs due stages, retries).
 * - enforce_tier_access: `entitlements:read` (admin, service), as GET /v1/entitlements/{user_id}; reads.
 * - generate_revenue_report: `analytics:read` (admin, analyst), as GET /v1/analytics/report; reads.
 * - process_refund: `billing:write` (admin, service), as POST /v1/refunds; writes.
 * - dispute_summary: `disputes:evidence` (admin), as POST /v1/disputes/{id}/evidence; reads (sends nothing).
 * - manage_seats: `billing:write` (admin, service), as PUT/DELETE /v1/organizations/{org_id}/members/{user_id}; writes.
 */
import { generateRevenueReport } from "./analytics";
import { processWebhook } from "./stripe-sync";
import { createSubscription } from "./subscriptions";
import { manageDunningProcess } from "./dunning";
import { enforceTierAccess } from "./entitlements";
import { processRefund } from "./refunds";
import { disputeSummary } from "./disputes";
import { manageSeats } from "./organizations";
import type { Tool } from "./types";

export type { Tool, ToolAccess } from "./types";

export const TOOLS: readonly Tool[] = [
  createSubscription,
  processWebhook,
  enforceTierAccess,
  generateRevenueReport,
  manageDunningProcess,
  processRefund,
  disputeSummary,
  manageSeats,
] as unknown as readonly Tool[];

export function findTool(name: string): Tool | undefined {
  return TOOLS.find((t) => t.name === name);
}
