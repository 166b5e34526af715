import { createRoute } from "@hono/zod-openapi";
import { guard, handle } from "../../http/route";
import { manageSeats as tool } from "../../tools";
import { runTool, toolContract } from "./schemas";

const route = createRoute({
  method: "post",
  path: "/v1/tools/manage_seats",
  ...guard(tool.permission, { idempotent: true }),
  ...toolContract(tool),
});

export default handle(route, runTool(tool) as never);
