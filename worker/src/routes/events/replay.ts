import { createRoute, z } from "@hono/zod-openapi";
import { replayEvent } from "../../stripe-sync";
import { EventId } from "../../fields";
import { guard, handle } from "../../http/route";
import { json, keyedErrors, notFoundProblem } from "../../http/schemas";
import { Replayed } from "./schemas";

const IdParam = z.object({
  id: EventId.openapi({ param: { name: "id", in: "path" } }),
});

const route = createRoute({
  method: "post",
  path: "/v1/events/{id}/replay",
  ...guard("events:replay", { idempotent: true }),
  summary: "Process a stored event again",
  tags: ["events"],
  request: { params: IdParam },
  responses: { 200: json(Replayed, "Processed again"), ...keyedErrors, ...notFoundProblem },
});

export default handle(route, async (c) => c.json(await replayEvent(c.get("services"), c.req.valid("param").id), 200));
