import { z } from "@hono/zod-openapi";
import { createApiKey, listApiKeys, revokeApiKey, rotateApiKey } from "../auth/api-keys";
import { getDb } from "../db/client";
import { ROLES } from "../db/schema";
import { actorOf } from "../http/actor";
import { defineRoute } from "../http/route";
import { newRouter } from "../http/router";
import { conflict, json, jsonBody, keyedErrors, notFound, Timestamp } from "../http/schemas";

const ApiKey = z
  .object({
    id: z.string(),
    name: z.string(),
    role: z.enum(ROLES),
    prefix: z.string(),
    created_at: Timestamp,
    last_used_at: Timestamp.nullable(),
    expires_at: Timestamp.nullable(),
    revoked_at: Timestamp.nullable(),
    rotated_from: z.string().nullable(),
    status: z.enum(["active", "expired", "revoked"]),
  })
  .openapi("ApiKey");

const CreatedKey = z.object({ key: z.string().describe("The secret. It is shown this once and never again."), api_key: ApiKey }).openapi("CreatedApiKey");
export type CreatedKeyResponse = z.infer<typeof CreatedKey>;
export type ApiKeyResponse = z.infer<typeof ApiKey>;

const CreateBody = z
  .strictObject({
    name: z.string().trim().min(1).max(100),
    role: z.enum(ROLES),
    expires_at: Timestamp.optional(),
  })
  .openapi("CreateApiKey");

const IdParam = z.object({ id: z.string().regex(/^key_[A-Za-z0-9_-]{16}$/, "must be a key id like key_...").openapi({ param: { name: "id", in: "path" } }) });

const RotateBody = z
  .strictObject({
    old_key_expires_at: Timestamp.optional().describe("Until when the old key keeps working; default: 24 hours from now."),
  })
  .openapi("RotateApiKey");

const ListQuery = z.strictObject({ include_revoked: z.enum(["true", "false"]).default("false") });

const DEFAULT_OVERLAP_MS = 24 * 60 * 60 * 1000;

const createRoute = defineRoute("keysCreate", { request: { body: jsonBody(CreateBody) }, responses: { 201: json(CreatedKey, "Created; the key is in `key`"), ...keyedErrors } });
const listRoute = defineRoute("keysList", { request: { query: ListQuery }, responses: { 200: json(z.object({ data: z.array(ApiKey) }), "Keys, newest first"), ...keyedErrors } });
const rotateRoute = defineRoute("keysRotate", {
  request: { params: IdParam, body: { required: false, content: { "application/json": { schema: RotateBody } } } },
  responses: { 201: json(CreatedKey.extend({ previous: ApiKey }), "The new key, and the old one with its expiry"), ...keyedErrors, ...notFound, ...conflict },
});
const revokeRoute = defineRoute("keysRevoke", { request: { params: IdParam }, responses: { 200: json(ApiKey, "Revoked"), ...keyedErrors, ...notFound } });

export const keys = newRouter()
  .openapi(createRoute, async (c) => {
    const body = c.req.valid("json");
    const deps = { db: getDb(c.env.DB), now: c.get("now"), actor: actorOf(c), requestId: c.get("requestId") };
    const { key, view } = await createApiKey(deps, { name: body.name, role: body.role, expiresAt: body.expires_at ? Date.parse(body.expires_at) : null });
    c.header("cache-control", "no-store");
    return c.json({ key, api_key: view }, 201);
  })
  .openapi(listRoute, async (c) => {
    const { include_revoked } = c.req.valid("query");
    return c.json({ data: await listApiKeys(getDb(c.env.DB), c.get("now"), { includeRevoked: include_revoked === "true" }) }, 200);
  })
  .openapi(rotateRoute, async (c) => {
    const { id } = c.req.valid("param");
    const body = c.req.valid("json") ?? {};
    const now = c.get("now");
    const deps = { db: getDb(c.env.DB), now, actor: actorOf(c), requestId: c.get("requestId") };
    const oldExpiresAt = body.old_key_expires_at ? Date.parse(body.old_key_expires_at) : now + DEFAULT_OVERLAP_MS;
    const { key, view, previous } = await rotateApiKey(deps, id, { oldExpiresAt });
    c.header("cache-control", "no-store");
    return c.json({ key, api_key: view, previous }, 201);
  })
  .openapi(revokeRoute, async (c) => {
    const { id } = c.req.valid("param");
    const deps = { db: getDb(c.env.DB), now: c.get("now"), actor: actorOf(c), requestId: c.get("requestId") };
    return c.json(await revokeApiKey(deps, id), 200);
  });
