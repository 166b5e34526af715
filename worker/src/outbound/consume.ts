/**
 * The `outbound-webhooks` queue's consumer: a message is only a nudge (a commit wrote events), so a
 * batch of them is one delivery run over everything due, acknowledged whatever it finds: what
 * fails is retried by the deliveries' own backoff and the minute sweep, not by the queue.
 */
import { describeError } from "../log";
import { deliverDue, type DeliverDeps } from "./deliver";

/** Rounds per batch: a user's second event waits for the first's answer, then goes in the next round. */
const ROUNDS = 4;

/** What the consumer uses of the runtime's MessageBatch (spelled out: Node code type-checks this folder too). */
export interface NudgeBatch {
  ackAll(): void;
}

export async function consumeOutbound(s: DeliverDeps, batch: NudgeBatch): Promise<void> {
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const o = await deliverDue(s);
      if (o.delivered === 0) break;
    }
  } catch (e) {
    s.log.log("error", "outbound delivery run failed; the minute sweep retries", { error: describeError(e) });
  }
  batch.ackAll();
}
