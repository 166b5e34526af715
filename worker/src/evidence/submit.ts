/**
 * `POST /v1/disputes/{id}/evidence`: sends the evidence built from the system's records to
 * Stripe (`disputes.update`), staged by default and submitted only when asked. A dispute Stripe
 * shows as closed, already under review, or past its evidence due date (on the customer's
 * clock) takes no evidence: nothing is sent.
 */
import type { Actor } from "../audit";
import { DomainError } from "../errors";
import { instant } from "../instant";
import type { Services } from "../services";
import { Stripe } from "../stripe-sync";
import { CLOSED_DISPUTE_STATUSES } from "../db/schema";
import { buildEvidence, type DisputeEvidence, type EvidenceDeps } from "./build";

export interface EvidenceResult extends DisputeEvidence {
  submitted: boolean;
}

/** Refuses a dispute that can take no evidence now, saying why. */
export function assertAnswerable(built: Pick<DisputeEvidence, "dispute" | "customerNow">): void {
  const { dispute, customerNow } = built;
  const field = [{ field: "id", message: `the dispute is ${dispute.status}` }];
  if (CLOSED_DISPUTE_STATUSES.has(dispute.status)) {
    throw new DomainError("dispute_closed", `Dispute ${dispute.id} is closed (${dispute.status}): Stripe takes no more evidence for it.`, {
      errors: field,
      extensions: { dispute_status: dispute.status },
    });
  }
  if (dispute.status === "under_review" || dispute.status === "warning_under_review") {
    throw new DomainError("dispute_closed", `Dispute ${dispute.id}'s evidence was already submitted and is under review: it cannot be changed.`, {
      errors: field,
      extensions: { dispute_status: dispute.status },
    });
  }
  const due = dispute.evidence_details.due_by;
  if (!due || due * 1000 <= customerNow) {
    throw new DomainError(
      "evidence_past_due",
      due ? `Dispute ${dispute.id}'s evidence was due by ${instant(due * 1000)}; it is too late to respond.` : `The card issuer allows no response to dispute ${dispute.id}.`,
      { errors: [{ field: "id", message: "the evidence due date has passed" }], extensions: { evidence_due_by: due ? instant(due * 1000) : null } },
    );
  }
}

/** SHA-256 hex of the update: a retry that rebuilt other evidence is another request to Stripe. */
async function digest(params: unknown): Promise<string> {
  const bytes = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(JSON.stringify(params))));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export async function sendEvidence(deps: EvidenceDeps & Pick<Services, "audit">, who: Actor, input: { disputeId: string; submit: boolean }): Promise<EvidenceResult> {
  // Refused as soon as the dispute and the customer's clock are read, before the evidence's other reads.
  const built = await buildEvidence(deps, input.disputeId, undefined, { check: assertAnswerable });
  const params = { evidence: built.evidence, submit: input.submit };
  const updated = await deps.stripe.disputes
    .update(built.dispute.id, params, who.idempotencyKey ? { idempotencyKey: `dispute-evidence:${who.idempotencyKey}:${await digest(params)}` } : undefined)
    .catch((e: unknown) => {
      // The key names the content, so only a concurrent twin can still meet it: say so, not 500.
      if (e instanceof Stripe.errors.StripeIdempotencyError)
        throw new DomainError("conflict", `Stripe is still answering another request sending this evidence to dispute ${built.dispute.id}; retry in a second.`, {
          errors: [{ field: "id", message: "the same evidence is being sent" }],
        });
      throw e;
    });
  const submitted = updated.evidence_details.submission_count > 0;
  await deps.audit.commit(async () => ({
    statements: [],
    entries: [
      {
        actor: who,
        action: submitted ? "dispute.evidence_submitted" : "dispute.evidence_staged",
        subject: { type: "dispute", id: built.dispute.id },
        after: {
          status: updated.status,
          invoice: built.invoiceId,
          service_period: { start: instant(built.period.start), end: instant(built.period.end) },
          access_checks: built.access.allowed,
          prior_payments: built.priorPayments.length,
        },
      },
    ],
    result: undefined,
  }));
  return { ...built, dispute: updated, submitted };
}
