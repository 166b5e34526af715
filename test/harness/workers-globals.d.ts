/**
 * The Workers globals that worker source imported into Node names (D1 in db/client.ts; the queue
 * and rate limit bindings in the Env type; the send_email binding and its result in email/). Node-side
 * code gets D1 from Miniflare, whose type is this one; the full @cloudflare/workers-types would
 * clash with the DOM and Node globals this project needs.
 */
import type {
  D1Database as WorkersD1Database,
  EmailSendResult as WorkersEmailSendResult,
  Queue as WorkersQueue,
  RateLimit as WorkersRateLimit,
  SendEmail as WorkersSendEmail,
} from "@cloudflare/workers-types/experimental";

declare global {
  type D1Database = WorkersD1Database;
  type Queue<Body = unknown> = WorkersQueue<Body>;
  type RateLimit = WorkersRateLimit;
  type SendEmail = WorkersSendEmail;
  type EmailSendResult = WorkersEmailSendResult;
}

export {};
