/**
 * The email outbox: an email is rendered and stored here (in the caller's own D1 batch if it
 * likes), then sent by the minute sweep (email/sweep.ts). The idempotency key names the case or
 * user and the step (`<case or user>:<step>`, e.g. `in_123:dunning_day_7`): enqueuing it again
 * stores nothing (INSERT ... ON CONFLICT DO NOTHING), so a repeated or overlapping tick never
 * emails anyone twice.
 */
import { randomHex } from "../crypto";
import { and, eq } from "drizzle-orm";
import type { Db } from "../db/client";
import { newestFirstPage } from "../db/page";
import { emailOutbox, type EmailStatus } from "../db/schema";
import { DomainError } from "../errors";
import type { Services } from "../services";
import { renderEmail, type EmailInput } from "./templates";

export type EmailRow = typeof emailOutbox.$inferSelect;

export interface EmailToEnqueue {
  /** Unique per email ever sent: `<case or user>:<step>`; at most 200 characters. */
  key: string;
  to: string;
  userId?: string | null | undefined;
  /** The template and the facts it is worded from. */
  email: EmailInput;
}

const ADDRESS = /^[^\s@<>()",;:\\]+@[^\s@<>()",;:\\]+\.[^\s@<>()",;:\\]+$/;

/** Whether `to` is an address the outbox takes: callers skip an email rather than fail their batch. */
export function isEmailAddress(to: string): boolean {
  return to.length <= 254 && ADDRESS.test(to);
}

/**
 * The INSERT ... ON CONFLICT DO NOTHING of one rendered email, due now: put it in your own D1
 * batch (`db.batch([..., enqueueEmail(s, e)])`) so the email is stored with the change it
 * announces, or `.run()` it. A key already stored writes nothing (`meta.changes` is 0).
 */
export function enqueueEmail(s: Pick<Services, "db" | "clock" | "appBaseUrl">, e: EmailToEnqueue) {
  if (!e.key || e.key.length > 200) throw new DomainError("validation_failed", "An email's idempotency key must be 1–200 characters.", { errors: [{ field: "key", message: "1–200 characters" }] });
  if (e.to.length > 254 || !ADDRESS.test(e.to))
    throw new DomainError("validation_failed", `Not an email address: ${JSON.stringify(e.to.slice(0, 100))}.`, { errors: [{ field: "to", message: "not an email address" }] });
  const rendered = renderEmail(e.email, { billingUrl: `${s.appBaseUrl}/billing` });
  const now = s.clock.now();
  return s.db
    .insert(emailOutbox)
    .values({
      id: `em_${randomHex(12)}`,
      idempotencyKey: e.key,
      to: e.to,
      userId: e.userId ?? null,
      template: e.email.template,
      ...rendered,
      status: "pending",
      attempts: 0,
      nextAttemptAt: now,
      createdAt: now,
    })
    .onConflictDoNothing({ target: emailOutbox.idempotencyKey });
}

/** Enqueues one email on its own; true when it was stored, false when its key already was. */
export async function enqueueEmailNow(s: Pick<Services, "db" | "clock" | "appBaseUrl">, e: EmailToEnqueue): Promise<boolean> {
  const result = await enqueueEmail(s, e).run();
  return ((result as { meta?: { changes?: number } }).meta?.changes ?? 0) > 0;
}

export async function emailByKey(db: Db, key: string): Promise<EmailRow | undefined> {
  return db.select().from(emailOutbox).where(eq(emailOutbox.idempotencyKey, key)).get();
}

/** Newest first; `startingAfter` is the last email id of the previous page. */
export async function listEmails(
  db: Db,
  f: { userId?: string | undefined; status?: EmailStatus | undefined; startingAfter?: string | undefined; limit: number },
): Promise<{ rows: EmailRow[]; hasMore: boolean }> {
  const scope = and(f.userId !== undefined ? eq(emailOutbox.userId, f.userId) : undefined, f.status !== undefined ? eq(emailOutbox.status, f.status) : undefined);
  return newestFirstPage(
    db,
    emailOutbox,
    scope,
    f,
    (id) => new DomainError("validation_failed", `No email ${id}: pass the id of the last email of the previous page.`, { errors: [{ field: "starting_after", message: "not an email id" }] }),
  );
}
