import { createRoute } from "@hono/zod-openapi";
import { assignSeat } from "../../organizations";
import { actorOf } from "../../http/actor";
import { guard, handle } from "../../http/route";
import { json, keyedErrors, named, notFoundProblem, problem } from "../../http/schemas";
import { OrganizationMember, presentMember } from "../../presenters";
import { MemberParams } from "./schemas";

const route = createRoute({
  method: "put",
  path: "/v1/organizations/{org_id}/members/{user_id}",
  ...guard("billing:write", { idempotent: true }),
  summary: "Give a user one of the organization's seats (tier agency at once); assigning again answers the same assignment",
  tags: ["organizations"],
  request: { params: MemberParams },
  responses: {
    200: json(named(OrganizationMember, "OrganizationMember"), "The user holds a seat"),
    ...keyedErrors,
    ...notFoundProblem,
    409: problem("Every seat is taken (`seats_exhausted`: release one or buy more), or the term has ended (`conflict`)"),
  },
});

export default handle(route, async (c) => {
  const { org_id, user_id } = c.req.valid("param");
  return c.json(presentMember(await assignSeat(c.get("services"), actorOf(c), org_id, user_id)), 200);
});
