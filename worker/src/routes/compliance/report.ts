import { createRoute, z } from "@hono/zod-openapi";
import { CONTROLS, reportMarkdown, complianceReport, EVIDENCE_IDS } from "../../compliance";
import { guard, handle } from "../../http/route";
import { keyedErrors } from "../../http/schemas";
import { Instant } from "../../instant";

const frameworks = [...new Set(Object.values(CONTROLS).map((c) => c.framework))] as [string, ...string[]];

const Item = z.object({
  id: z.enum(EVIDENCE_IDS),
  title: z.string(),
  status: z.enum(["pass", "fail"]),
  detail: z.string().describe("What was found, in one sentence"),
  controls: z.array(z.object({ framework: z.enum(frameworks), id: z.string(), title: z.string() })),
  rationale: z.string().describe("Why this evidence supports those controls"),
  evidence: z.record(z.string(), z.unknown()).describe("What was gathered from the running system (never secrets; card numbers masked)"),
});

const Report = z
  .object({
    generated_at: Instant,
    environment: z.string(),
    status: z.enum(["pass", "fail"]),
    summary: z.object({ pass: z.int(), fail: z.int(), failing: z.array(z.enum(EVIDENCE_IDS)) }),
    policy: z.record(z.string(), z.number()),
    items: z.array(Item),
  })
  .openapi("ComplianceReport");

const route = createRoute({
  method: "get",
  path: "/v1/compliance/report",
  ...guard("compliance:read"),
  summary: "Control evidence (PCI DSS SAQ A, NIST SP 800-53) gathered from the running system, pass or fail per item (JSON, or Markdown with Accept: text/markdown)",
  tags: ["compliance"],
  request: { query: z.strictObject({}) },
  responses: {
    200: { description: "The report; `status` is fail when any item fails", content: { "application/json": { schema: Report }, "text/markdown": { schema: z.string() } } },
    ...keyedErrors,
  },
});

const wantsMarkdown = (accept: string | undefined) => /(^|,)\s*text\/markdown\b/i.test(accept ?? "");

export default handle(route, async (c) => {
  let probe: ((request: Request) => Promise<Response>) | null = null;
  try {
    // ctx.exports: the worker's own fetch handler, so probes pass every middleware a client's request does.
    const self = (c.executionCtx as ExecutionContext & { exports?: { default?: Fetcher } }).exports?.default;
    if (self) probe = (request) => self.fetch(request);
  } catch {
    // No execution context (app.request in a test): the checks that need a probe say so and fail.
  }
  const report = await complianceReport(c.get("services"), { env: c.env, probe });
  if (wantsMarkdown(c.req.header("accept"))) {
    return c.body(reportMarkdown(report), 200, { "content-type": "text/markdown; charset=utf-8" }) as never;
  }
  return c.json(report, 200);
});
