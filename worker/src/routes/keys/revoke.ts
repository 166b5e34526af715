import { createRoute } from "@hono/zod-openapi";
import { revokeApiKey } from "../../auth";
import { actorOf } from "../../http/actor";
import { guard, handle } from "../../http/route";
import { json, keyedErrors, notFoundProblem } from "../../http/schemas";
import { ApiKey, IdParam } from "./schemas";

const route = createRoute({
  method: "post",
  path: "/v1/keys/{id}/revoke",
  ...guard("keys:manage", { idempotent: true }),
  summary: "Revoke a key at once",
  tags: ["keys"],
  request: { params: IdParam },
  responses: { 200: json(ApiKey, "Revoked"), ...keyedErrors, ...notFoundProblem },
});

export default handle(route, async (c) => {
  const { id } = c.req.valid("param");
  return c.json(await revokeApiKey(c.get("services"), actorOf(c), id), 200);
});
