/**
 * dispute_summary: a dispute as Stripe has it now (status, reason, amount, evidence due date)
 * and the evidence POST /v1/disputes/{id}/evidence would send, built by the same function
 * (evidence/build.ts), with the access checks it counts. It sends nothing: an agent reads it
 * to decide, and a person (or that route) submits.
 */
import { z } from "zod";
import { buildEvidence } from "../evidence";
import { DisputeId } from "../fields";
import { DisputeSummary, presentDisputeSummary } from "../presenters";
import { defineTool } from "./types";

const Input = z.strictObject({ dispute_id: DisputeId });

export const disputeSummary = defineTool({
  name: "dispute_summary",
  description:
    "Summarize a Stripe dispute (chargeback): its status, reason, amount in integer cents, evidence due date and the disputed invoice's service period, with the evidence the system would send from its own records (customer email and name, the access activity log, the cancellation and refund terms shown at checkout, earlier undisputed payments) and `access_checks`, how often the user's access was checked and allowed in that period. Sends nothing to Stripe; POST /v1/disputes/{id}/evidence stages or submits it.",
  input: Input,
  output: DisputeSummary,
  // What its twin needs: the evidence carries the customer's email, name and access log.
  permission: "disputes:evidence",
  twin: { method: "POST", path: "/v1/disputes/{id}/evidence" },
  access: "read",
  examples: [{ dispute_id: "dp_1Example" }],
  async handler(s, input) {
    return presentDisputeSummary(await buildEvidence(s, input.dispute_id));
  },
});
