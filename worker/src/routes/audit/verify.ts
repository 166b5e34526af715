import { createRoute, z } from "@hono/zod-openapi";
import { verifyAuditChain } from "../../audit/verify";
import { guard, handle } from "../../http/route";
import { json, keyedErrors } from "../../http/schemas";

const Verify = z
  .object({
    ok: z.boolean(),
    rows_checked: z.int(),
    head: z.object({ seq: z.int(), hash: z.string() }).nullable(),
    first_broken: z.object({ seq: z.int(), reason: z.enum(["hash_mismatch", "prev_hash_mismatch", "missing_row"]) }).nullable(),
  })
  .openapi("AuditVerification");
export type AuditVerifyResponse = z.infer<typeof Verify>;

const route = createRoute({
  method: "get",
  path: "/v1/audit/verify",
  ...guard("audit:read"),
  summary: "Verify the audit hash chain",
  tags: ["audit"],
  responses: { 200: json(Verify, "`ok` is false and `first_broken` names the row when the chain is broken"), ...keyedErrors },
});

export default handle(route, async (c) => c.json(await verifyAuditChain(c.get("services").db), 200));
