import { createRoute, z } from "@hono/zod-openapi";
import { targetProgress } from "../../analytics";
import { guard, handle } from "../../http/route";
import { json, keyedErrors } from "../../http/schemas";
import { CurrencyParam } from "./schemas";
import { Instant } from "../../instant";

const route = createRoute({
  method: "get",
  path: "/v1/analytics/targets",
  ...guard("analytics:read"),
  summary: "Progress toward each break-even target with the month it is projected to be reached, and the 12-month MRR forecast",
  tags: ["analytics"],
  request: { query: z.strictObject({ currency: CurrencyParam }) },
  responses: {
    200: json(
      z.object({
        as_of: Instant,
        currency: z.string(),
        targets: z.array(
          z.object({
            key: z.string(),
            label: z.string(),
            direction: z.enum(["at_least", "at_most"]),
            target: z.number(),
            current: z.number(),
            progress: z.number(),
            reached: z.boolean(),
            projected_month: z.string().nullable(),
            unit: z.string(),
          }),
        ),
        forecast: z.array(z.object({ period: z.string(), mrr: z.int(), low: z.int(), high: z.int() })),
      }),
      "Targets and forecast",
    ),
    ...keyedErrors,
  },
});

export default handle(route, async (c) => c.json(await targetProgress(c.get("services"), { currency: c.req.valid("query").currency }), 200));
