/**
 * process_refund: refunds a paid invoice through refunds/create.ts's createRefund, the function
 * behind POST /v1/refunds: a Stripe credit note with a refund, the refund policy deciding what
 * happens to access. The same input rules (fields.ts) and answers as the route.
 */
import { z } from "zod";
import { EndAccess, InvoiceId, RefundAmount, RefundReason } from "../fields";
import { presentRefund, Refund } from "../presenters";
import { createRefund } from "../refunds";
import { defineTool } from "./types";

const Input = z.strictObject({
  invoice_id: InvoiceId,
  amount: RefundAmount.optional(),
  reason: RefundReason,
  end_access: EndAccess.optional(),
});

export const processRefund = defineTool({
  name: "process_refund",
  description:
    "Refund a paid invoice, in full (leave amount out) or in part (amount in integer cents), as a Stripe credit note with a refund so the invoice, the refund and the books agree. By the refund policy a full refund of the current period's invoice cancels the subscription at once and ends access, a partial one changes nothing; end_access overrides that. More than the invoice paid and has not yet had back is refused (refund_exceeds_paid) and nothing changes. Returns the refund with its credit note.",
  input: Input,
  output: Refund,
  permission: "billing:write",
  twin: { method: "POST", path: "/v1/refunds" },
  access: "write",
  examples: [{ invoice_id: "in_1Example", reason: "requested_by_customer" }],
  async handler(s, input, actor) {
    return presentRefund(await createRefund(s, actor, { invoiceId: input.invoice_id, amount: input.amount, reason: input.reason, endAccess: input.end_access }));
  },
});
