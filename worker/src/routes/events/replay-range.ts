import { createRoute, z } from "@hono/zod-openapi";
import { REPLAY_NOW, replayRange } from "../../stripe-sync";
import { guard, handle } from "../../http/route";
import { json, jsonBody, keyedErrors } from "../../http/schemas";
import { InstantInput, msOf } from "../../instant";
import { Replayed } from "./schemas";

const RangeBody = z.strictObject({ from: InstantInput, to: InstantInput }).openapi("ReplayRange");

const route = createRoute({
  method: "post",
  path: "/v1/events/replay",
  ...guard("events:replay", { idempotent: true }),
  summary: "Process again every stored event created in a time range",
  tags: ["events"],
  request: { body: jsonBody(RangeBody) },
  responses: { 200: json(Replayed, `Requeued; up to ${REPLAY_NOW} of them processed now, the rest by the minute sweep`), ...keyedErrors },
});

export default handle(route, async (c) => {
  const { from, to } = c.req.valid("json");
  return c.json(await replayRange(c.get("services"), msOf(from), msOf(to)), 200);
});
