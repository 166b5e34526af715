/**
 * Sends the outbox's due emails (the minute cron). A sweep takes its rows with ONE conditional
 * UPDATE (pending and due, or `sending` with an expired lease → `sending` with a new lease,
 * attempts + 1), so two overlapping sweeps on any D1 handles never take the same row; each
 * outcome is written only while the lease is still the one taken. A failed send waits 1 min,
 * 5 min, 30 min, 2 h, then the email is `failed`; an error the transport calls permanent fails
 * it at once. A provider outage loses nothing: rows stay pending until it answers.
 */
import { and, asc, eq, inArray, isNotNull, lt, lte, or, sql } from "drizzle-orm";
import { emailOutbox } from "../db/schema";
import { describeError } from "../log";
import type { Services } from "../services";
import type { EmailRow } from "./outbox";
import { isSuppressed, suppressedWaiting } from "./suppress";
import { EmailSendError } from "./transports";

/** Delay before attempt n+1 after n failed attempts; after the last, the email is failed. */
export const EMAIL_BACKOFF_MS = [60_000, 5 * 60_000, 30 * 60_000, 2 * 3_600_000] as const;
export const EMAIL_MAX_ATTEMPTS = EMAIL_BACKOFF_MS.length + 1;
/** How long a sweep holds a row; a sweep that died mid-send lets another retry after this. */
export const EMAIL_LEASE_MS = 2 * 60_000;
/** The longest one send may take (the transports' own timeouts are shorter): a lease is not used past lease − this. */
export const EMAIL_SEND_TIMEOUT_MS = 30_000;
/** Emails per tick: bounded, so a tick stays within a Worker's limits; the rest go next minute. */
export const EMAIL_BATCH = 25;

export interface SweepResult {
  sent: number;
  retrying: number;
  failed: number;
}

/** Takes up to `limit` due emails for this sweep; none that another sweep holds. */
export async function claimDueEmails(s: Pick<Services, "db" | "clock">, limit: number): Promise<EmailRow[]> {
  const now = s.clock.now();
  // A suppressed recipient's email is never sent (email/suppress.ts): marked, and never claimed.
  await suppressedWaiting(s.db, now).run();
  const due = and(
    or(and(eq(emailOutbox.status, "pending"), lte(emailOutbox.nextAttemptAt, now)), and(eq(emailOutbox.status, "sending"), isNotNull(emailOutbox.leaseUntil), lt(emailOutbox.leaseUntil, now))),
    sql`not ${isSuppressed()}`,
  );
  const ids = s.db.select({ id: emailOutbox.id }).from(emailOutbox).where(due).orderBy(asc(emailOutbox.nextAttemptAt)).limit(limit);
  return (
    s.db
      .update(emailOutbox)
      .set({ status: "sending", leaseUntil: now + EMAIL_LEASE_MS, attempts: sql`${emailOutbox.attempts} + 1` })
      // `due` again: the subquery and the update are one statement, and only due rows change.
      .where(and(inArray(emailOutbox.id, ids), due))
      .returning()
  );
}

const held = (row: EmailRow) => and(eq(emailOutbox.id, row.id), eq(emailOutbox.status, "sending"), eq(emailOutbox.leaseUntil, row.leaseUntil!));

export async function sendDueEmails(s: Pick<Services, "db" | "clock" | "log" | "emailTransport">, limit = EMAIL_BATCH): Promise<SweepResult> {
  const result: SweepResult = { sent: 0, retrying: 0, failed: 0 };
  // The transport first: a missing setting fails the tick before any row is taken.
  const transport = s.emailTransport;
  const rows = await claimDueEmails(s, limit);
  for (const [i, row] of rows.entries()) {
    // Sends are one after another: a row whose lease would run out during its send goes back,
    // with the rest, rather than be sent while another sweep may take it too.
    if (s.clock.now() >= row.leaseUntil! - EMAIL_SEND_TIMEOUT_MS) {
      for (const left of rows.slice(i)) {
        await s.db
          .update(emailOutbox)
          .set({ status: "pending", leaseUntil: null, attempts: sql`${emailOutbox.attempts} - 1` })
          .where(held(left));
      }
      break;
    }
    let providerMessageId: string;
    try {
      providerMessageId = await transport.send({ id: row.id, idempotencyKey: row.idempotencyKey, to: row.to, subject: row.subject, text: row.text, html: row.html });
    } catch (error) {
      const retryable = !(error instanceof EmailSendError) || error.retryable;
      const final = !retryable || row.attempts >= EMAIL_MAX_ATTEMPTS;
      const lastError = describeError(error).slice(0, 1000);
      await s.db
        .update(emailOutbox)
        .set(
          final
            ? { status: "failed", provider: transport.name, leaseUntil: null, nextAttemptAt: null, lastError }
            : { status: "pending", provider: transport.name, leaseUntil: null, nextAttemptAt: s.clock.now() + EMAIL_BACKOFF_MS[row.attempts - 1]!, lastError },
        )
        .where(held(row));
      if (final) result.failed++;
      else result.retrying++;
      s.log.log(final ? "error" : "warn", final ? "email failed" : "email send failed; will retry", {
        email_id: row.id,
        idempotency_key: row.idempotencyKey,
        attempts: row.attempts,
        error: lastError,
      });
      continue;
    }
    // Outside the try: the email is out, so a failure to record it must not make it pending again.
    await s.db.update(emailOutbox).set({ status: "sent", sentAt: s.clock.now(), provider: transport.name, providerMessageId, leaseUntil: null, nextAttemptAt: null, lastError: null }).where(held(row));
    result.sent++;
  }
  return result;
}
