import { createRoute, z } from "@hono/zod-openapi";
import { verifyAuditChain, BREAK_REASONS } from "../../audit";
import { guard, handle } from "../../http/route";
import { json, keyedErrors } from "../../http/schemas";
import { Instant, instantOrNull } from "../../instant";

const Verify = z
  .object({
    ok: z.boolean(),
    rows_checked: z.int(),
    head: z.object({ seq: z.int(), hash: z.string() }).nullable().describe("The chain's newest row; keep a copy outside D1 to check against later"),
    first_broken: z
      .object({ seq: z.int(), reason: z.enum(BREAK_REASONS), detail: z.string() })
      .nullable()
      .describe(
        "The first row that does not fit: changed (`hash_mismatch`), re-linked (`prev_hash_mismatch`), deleted (`missing_row`), " +
          "newest rows deleted (`tail_missing`, at the first missing seq), chain recomputed since the checkpoint (`checkpoint_mismatch`), " +
          "or a stored checkpoint this worker did not sign (`checkpoint_forged`)",
      ),
    checkpoint: z
      .object({ seq: z.int(), at: Instant.nullable(), source: z.enum(["stored", "given"]) })
      .nullable()
      .describe("The checkpoint the chain was checked against: the latest signed one, or the one in the query (no time); null if none"),
    checkpointing: z.enum(["enabled", "not_configured"]).describe("`not_configured`: AUDIT_CHECKPOINT_SECRET is unset, so no checkpoints are made or checked"),
  })
  .openapi("AuditVerification");
export type AuditVerifyResponse = z.infer<typeof Verify>;

const VerifyQuery = z
  .strictObject({
    checkpoint_seq: z.coerce.number().int().positive().optional().describe("A head `seq` saved earlier outside D1 (with `checkpoint_hash`)"),
    checkpoint_hash: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, "must be the 64 hex characters of a row hash")
      .optional()
      .describe("That head's `hash`; the chain is checked against it instead of the stored checkpoint"),
  })
  .superRefine((q, ctx) => {
    // One without the other checks nothing; say so rather than silently ignore it.
    if (q.checkpoint_seq !== undefined && q.checkpoint_hash === undefined) ctx.addIssue({ code: "custom", path: ["checkpoint_hash"], message: "required with checkpoint_seq" });
    if (q.checkpoint_hash !== undefined && q.checkpoint_seq === undefined) ctx.addIssue({ code: "custom", path: ["checkpoint_seq"], message: "required with checkpoint_hash" });
  });

const route = createRoute({
  method: "get",
  path: "/v1/audit/verify",
  ...guard("audit:read"),
  summary: "Verify the audit hash chain, and check it against a checkpoint of its head",
  tags: ["audit"],
  request: { query: VerifyQuery },
  responses: { 200: json(Verify, "`ok` is false and `first_broken` names the row when the chain is broken"), ...keyedErrors },
});

export default handle(route, async (c) => {
  const q = c.req.valid("query");
  const given = q.checkpoint_seq !== undefined && q.checkpoint_hash !== undefined ? { seq: q.checkpoint_seq, hash: q.checkpoint_hash.toLowerCase() } : undefined;
  const result = await verifyAuditChain(c.get("services"), given ? { checkpoint: given } : {});
  const checkpoint = result.checkpoint && { ...result.checkpoint, at: instantOrNull(result.checkpoint.at) };
  return c.json({ ...result, checkpoint }, 200);
});
