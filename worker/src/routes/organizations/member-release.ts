import { createRoute } from "@hono/zod-openapi";
import { releaseSeat } from "../../organizations";
import { actorOf } from "../../http/actor";
import { guard, handle } from "../../http/route";
import { keyedErrors, notFoundProblem } from "../../http/schemas";
import { MemberParams } from "./schemas";

const route = createRoute({
  method: "delete",
  path: "/v1/organizations/{org_id}/members/{user_id}",
  ...guard("billing:write", { idempotent: true }),
  summary: "Release a user's seat: free again at once, and the user's access falls back to their own plan at once",
  tags: ["organizations"],
  request: { params: MemberParams },
  responses: { 204: { description: "Released" }, ...keyedErrors, ...notFoundProblem },
});

export default handle(route, async (c) => {
  const { org_id, user_id } = c.req.valid("param");
  await releaseSeat(c.get("services"), actorOf(c), org_id, user_id);
  return c.body(null, 204);
});
