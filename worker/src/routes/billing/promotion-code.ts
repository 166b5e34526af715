import { createRoute, z } from "@hono/zod-openapi";
import { lookupPromotionCode } from "../../subscriptions";
import { guard, handle } from "../../http/route";
import { json, keyedErrors, notFoundProblem } from "../../http/schemas";
import { PromotionCode } from "../../fields";

const PromotionCodeView = z
  .object({
    code: z.string(),
    active: z.boolean(),
    coupon: z.object({
      percent_off: z.number().nullable(),
      amount_off: z.int().nullable().openapi({ description: "integer cents, in `currency`" }),
      currency: z.string().nullable(),
      duration: z.string().openapi({ description: "`once`, `repeating` or `forever`" }),
      duration_in_months: z.int().nullable(),
    }),
  })
  .openapi("PromotionCode");

const route = createRoute({
  method: "get",
  path: "/v1/promotion-codes/{code}",
  ...guard("billing:read"),
  summary: "An active promotion code and its discount",
  tags: ["billing"],
  request: { params: z.object({ code: PromotionCode.openapi({ param: { name: "code", in: "path" } }) }) },
  responses: { 200: json(PromotionCodeView, "The promotion code"), ...keyedErrors, ...notFoundProblem },
});

export default handle(route, async (c) => {
  const { code } = c.req.valid("param");
  return c.json(await lookupPromotionCode(c.get("services"), code), 200);
});
