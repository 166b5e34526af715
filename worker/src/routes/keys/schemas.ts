import { z } from "@hono/zod-openapi";
import { ROLES } from "../../db/schema";
import { Timestamp } from "../../http/schemas";

export const ApiKey = z
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
export type ApiKeyResponse = z.infer<typeof ApiKey>;

export const CreatedKey = z.object({ key: z.string().describe("The secret. It is shown this once and never again."), api_key: ApiKey }).openapi("CreatedApiKey");
export type CreatedKeyResponse = z.infer<typeof CreatedKey>;

export const IdParam = z.object({
  id: z
    .string()
    .regex(/^key_[A-Za-z0-9_-]{16}$/, "must be a key id like key_...")
    .openapi({ param: { name: "id", in: "path" } }),
});
