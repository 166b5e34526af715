import { createRoute, z } from "@hono/zod-openapi";
import { rotateApiKey } from "../../auth";
import { actorOf } from "../../http/actor";
import { guard, handle } from "../../http/route";
import { conflictProblem, json, keyedErrors, notFoundProblem } from "../../http/schemas";
import { InstantInput, msOf } from "../../instant";
import { ApiKey, CreatedKey, IdParam } from "./schemas";

const RotateBody = z
  .strictObject({
    old_key_expires_at: InstantInput.optional().describe("Until when the old key keeps working; default: 24 hours from now."),
  })
  .openapi("RotateApiKey");

const route = createRoute({
  method: "post",
  path: "/v1/keys/{id}/rotate",
  ...guard("keys:manage"),
  summary: "Rotate a key: a new key now, the old one valid until a chosen expiry",
  tags: ["keys"],
  request: { params: IdParam, body: { required: false, content: { "application/json": { schema: RotateBody } } } },
  responses: { 201: json(CreatedKey.extend({ previous: ApiKey }), "The new key, and the old one with its expiry"), ...keyedErrors, ...notFoundProblem, ...conflictProblem },
});

export default handle(route, async (c) => {
  const { id } = c.req.valid("param");
  const body = c.req.valid("json") ?? {};
  const oldExpiresAt = body.old_key_expires_at ? msOf(body.old_key_expires_at) : undefined;
  const { key, view, previous } = await rotateApiKey(c.get("services"), actorOf(c), id, { oldExpiresAt });
  c.header("cache-control", "no-store");
  return c.json({ key, api_key: view, previous }, 201);
});
