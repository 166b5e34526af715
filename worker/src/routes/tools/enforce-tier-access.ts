import { createRoute } from "@hono/zod-openapi";
import { guard, handle } from "../../http/route";
import { enforceTierAccess as tool } from "../../tools";
import { runTool, toolContract } from "./schemas";

const route = createRoute({
  method: "post",
  path: "/v1/tools/enforce_tier_access",
  ...guard(tool.permission),
  ...toolContract(tool),
});

export default handle(route, runTool(tool) as never);
