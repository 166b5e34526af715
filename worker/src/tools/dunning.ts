/**
 * manage_dunning_process: the dunning case of a customer's failed payment, brought up to date
 * and explained. Stub: the contract is final, the handler lands next.
 */
import { z } from "zod";
import { DomainError } from "../errors";
import { defineTool } from "./types";

const Input = z.strictObject({
  customer_id: z.string().regex(/^cus_[A-Za-z0-9]{1,255}$/, "must be a Stripe customer id (cus_...)").describe("The Stripe customer whose payment failed"),
  failure_count: z.int().min(1).max(100).describe("Failed attempts the agent knows of; compared with Stripe's attempt count"),
  amount: z.union([z.number(), z.string()]).describe("The unpaid amount in dollars as the agent knows it, e.g. 49.00 (at most 2 decimals); compared with Stripe's amount due"),
});

const Action = z.object({ action: z.string(), at: z.string().describe("ISO 8601"), detail: z.string() });

const Output = z.object({
  customer_id: z.string(),
  case_id: z.string().nullable(),
  invoice_id: z.string().nullable(),
  subscription_id: z.string().nullable(),
  status: z.enum(["open", "suspended", "recovered", "canceled", "none"]),
  stage: z.string().nullable().describe("The last stage reached: dunning_soft, dunning_urgent, dunning_final, suspended; null before the first"),
  amount_due: z.object({ amount: z.int().describe("Cents, from Stripe"), currency: z.string() }).nullable(),
  attempts: z.int().nullable().describe("Stripe's attempt count on the invoice"),
  done_now: z.array(z.string()).describe("What this call did (a due stage or retry run now, a missed failure synced)"),
  history: z.array(Action).describe("What dunning has done so far"),
  next_actions: z.array(Action).describe("What happens next and when"),
  disagreements: z.array(z.object({ field: z.string(), given: z.unknown(), stripe: z.unknown() })),
  summary: z.string(),
});

export const manageDunningProcess = defineTool({
  name: "manage_dunning_process",
  description:
    "Manage the dunning of a customer's failed payment: makes sure the case exists (syncing a failure the webhooks missed), runs any stage or retry that is due now, and returns the stage, what was done, and the next actions with their dates. `amount` is in dollars (49.00 = 4900 cents, at most 2 decimals); it and `failure_count` are checked against Stripe's invoice, and a disagreement is reported.",
  input: Input,
  output: Output,
  permission: "dunning:write",
  access: "write",
  examples: [{ customer_id: "cus_123", failure_count: 2, amount: 49.0 }],
  async handler() {
    throw new DomainError("unavailable", "manage_dunning_process is not implemented yet.");
  },
});
