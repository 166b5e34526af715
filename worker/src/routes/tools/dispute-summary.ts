import { createRoute } from "@hono/zod-openapi";
import { guard, handle } from "../../http/route";
import { disputeSummary as tool } from "../../tools";
import { runTool, toolContract } from "./schemas";

const route = createRoute({
  method: "post",
  path: "/v1/tools/dispute_summary",
  ...guard(tool.permission),
  ...toolContract(tool),
});

export default handle(route, runTool(tool) as never);
