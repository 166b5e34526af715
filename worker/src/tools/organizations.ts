/**
 * manage_seats: gives or takes back one seat of an organization, through organizations/
 * members.ts's assignSeat and releaseSeat, the functions behind PUT and DELETE
 * /v1/organizations/{org_id}/members/{user_id}: the same input rules (fields.ts), the same
 * refusals (every seat taken: seats_exhausted; the term ended: conflict; no seat to release:
 * not_found), and the seat holder's access follows at once.
 */
import { z } from "zod";
import { OrgId, UserId } from "../fields";
import { assignSeat, organizationView, releaseSeat } from "../organizations";
import { instant } from "../instant";
import { defineTool } from "./types";

const Input = z.strictObject({
  org_id: OrgId,
  user_id: UserId,
  action: z.enum(["assign", "release"]).describe("assign: give the user a seat (again: the same seat); release: take it back"),
});

const Output = z.object({
  outcome: z.enum(["assigned", "released"]),
  org_id: z.string(),
  user_id: z.string(),
  assigned_at: z.string().nullable().describe("When the seat was given (RFC 3339); null once released"),
  seats: z.int().describe("Seats the organization bought"),
  seats_assigned: z.int().describe("Seats held now"),
});

export const manageSeats = defineTool({
  name: "manage_seats",
  description:
    "Give a user one of an organization's seats (action assign), or take it back (action release). A seat holder gets the organization's tier (agency) at once, or the better of it and their own plan; a released user falls back at once. Assigning when every seat is taken is refused (seats_exhausted): release one or buy more (POST /v1/organizations/{org_id}/seats). Assigning the same user twice answers the same seat.",
  input: Input,
  output: Output,
  permission: "billing:write",
  twin: { method: "PUT", path: "/v1/organizations/{org_id}/members/{user_id}" },
  access: "write",
  examples: [{ org_id: "org_opt", user_id: "user_123", action: "assign" }],
  async handler(s, input, actor) {
    let assignedAt: string | null = null;
    if (input.action === "assign") assignedAt = instant((await assignSeat(s, actor, input.org_id, input.user_id)).assignedAt);
    else await releaseSeat(s, actor, input.org_id, input.user_id);
    const view = await organizationView(s, input.org_id);
    return {
      outcome: input.action === "assign" ? ("assigned" as const) : ("released" as const),
      org_id: input.org_id,
      user_id: input.user_id,
      assigned_at: assignedAt,
      seats: view.seats,
      seats_assigned: view.seatsAssigned,
    };
  },
});
