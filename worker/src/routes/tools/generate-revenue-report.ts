import { createRoute } from "@hono/zod-openapi";
import { guard, handle } from "../../http/route";
import { generateRevenueReport as tool } from "../../tools";
import { runTool, toolContract } from "./schemas";

const route = createRoute({
  method: "post",
  path: "/v1/tools/generate_revenue_report",
  ...guard(tool.permission),
  ...toolContract(tool),
});

export default handle(route, runTool(tool) as never);
