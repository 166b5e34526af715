import { z } from "@hono/zod-openapi";
import { named } from "../../http/schemas";
import { ApiKey as ApiKeyWire } from "../../presenters";

export const ApiKey = named(ApiKeyWire, "ApiKey");
export type ApiKeyResponse = z.infer<typeof ApiKey>;

export const CreatedKey = z.object({ key: z.string().describe("The secret. It is shown this once and never again."), api_key: ApiKey }).openapi("CreatedApiKey");
export type CreatedKeyResponse = z.infer<typeof CreatedKey>;

export const IdParam = z.object({
  id: z
    .string()
    .regex(/^key_[A-Za-z0-9_-]{16}$/, "must be a key id like key_...")
    .openapi({ param: { name: "id", in: "path" } }),
});
