import { z } from "@hono/zod-openapi";
import { USER_ID_PATTERN } from "../../entitlements/user-id";

export const UserId = z.string().regex(USER_ID_PATTERN, "must be 1-128 of A-Z a-z 0-9 _ . : @ -");
