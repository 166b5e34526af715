import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "./context";
import { validationHook } from "./validation";

/** Every sub-app shares the validation hook, so a zod failure anywhere is the same problem. */
export function newRouter() {
  return new OpenAPIHono<AppEnv>({ defaultHook: validationHook as never });
}
