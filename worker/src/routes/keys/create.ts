import { createRoute, z } from "@hono/zod-openapi";
import { createApiKey } from "../../auth";
import { ROLES } from "../../db/schema";
import { actorOf } from "../../http/actor";
import { guard, handle } from "../../http/route";
import { json, jsonBody, keyedErrors } from "../../http/schemas";
import { InstantInput, msOf } from "../../instant";
import { CreatedKey } from "./schemas";

const CreateBody = z
  .strictObject({
    name: z.string().trim().min(1).max(100),
    role: z.enum(ROLES),
    expires_at: InstantInput.optional(),
  })
  .openapi("CreateApiKey");

const route = createRoute({
  method: "post",
  path: "/v1/keys",
  ...guard("keys:manage"),
  summary: "Create an API key (shown once)",
  tags: ["keys"],
  request: { body: jsonBody(CreateBody) },
  responses: { 201: json(CreatedKey, "Created; the key is in `key`"), ...keyedErrors },
});

export default handle(route, async (c) => {
  const body = c.req.valid("json");
  const { key, view } = await createApiKey(c.get("services"), actorOf(c), { name: body.name, role: body.role, expiresAt: body.expires_at ? msOf(body.expires_at) : null });
  c.header("cache-control", "no-store");
  return c.json({ key, api_key: view }, 201);
});
