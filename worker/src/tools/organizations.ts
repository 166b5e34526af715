/**
 * manage_seats: gives a user one of an organization's seats, or releases it, through
 * organizations/members.ts, the functions behind PUT and DELETE
 * /v1/organizations/{org_id}/members/{user_id}: the same rules (every seat taken is
 * `seats_exhausted`, a term that ended a `conflict`) and the same immediate effect on access.
 */
import { z } from "zod";
import { OrgId, UserId } from "../fields";
import { Instant, instant } from "../instant";
import { assignSeat, releaseSeat } from "../organizations";
import { defineTool } from "./types";

const Input = z.strictObject({
  org_id: OrgId,
  user_id: UserId,
  action: z.enum(["assign", "release"]).describe("`assign` gives the user a seat (again: the same assignment); `release` gives it back"),
});

const Output = z.object({
  org_id: z.string(),
  user_id: z.string(),
  holds_seat: z.boolean(),
  assigned_at: Instant.nullable().describe("When the seat was assigned; null once released"),
});

export const manageSeats = defineTool({
  name: "manage_seats",
  description:
    "Assign or release an organization's seat for a user. An assigned seat gives the user tier agency (every feature of mobile) at once, or keeps their own plan if it is better; a released seat is free again at once and the user falls back to their own plan. Assigning when every seat is taken is refused (seats_exhausted); releasing a seat the user does not hold is not_found.",
  input: Input,
  output: Output,
  permission: "billing:write",
  twin: { method: "PUT", path: "/v1/organizations/{org_id}/members/{user_id}" },
  access: "write",
  examples: [{ org_id: "org_opm", user_id: "user_123", action: "assign" }],
  async handler(s, input, actor) {
    if (input.action === "release") {
      await releaseSeat(s, actor, input.org_id, input.user_id);
      return { org_id: input.org_id, user_id: input.user_id, holds_seat: false, assigned_at: null };
    }
    const m = await assignSeat(s, actor, input.org_id, input.user_id);
    return { org_id: m.orgId, user_id: m.userId, holds_seat: true, assigned_at: instant(m.assignedAt) };
  },
});
