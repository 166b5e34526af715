/**
 * Suppressions: kinds of email (EMAIL_CATEGORY) a customer must no longer get, e.g. after an
 * early fraud warning (the card's owner did not agree to pay: asking them for money invites a
 * dispute). Suppressing stores one row per user and kind, and marks the user's emails of those
 * kinds already waiting `suppressed`; the sweep, the one sender, holds back any that come later
 * (suppressedWaiting, and its claim skips them), whoever enqueued them. Admin emails are never
 * suppressed: they do not go to the customer.
 */
import { and, eq, inArray, lt, or, sql, type SQL } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Db } from "../db/client";
import { emailOutbox, emailSuppressions, type EmailCategory } from "../db/schema";
import type { Services } from "../services";
import { EMAIL_CATEGORY, EMAIL_TEMPLATES } from "./templates";

export interface Suppression {
  userId: string;
  /** The customer's address now: an email queued to it without the user id is held too. */
  address: string | null;
  categories: readonly EmailCategory[];
  reason: string;
}

const templatesOf = (categories: readonly EmailCategory[]) => EMAIL_TEMPLATES.filter((t) => categories.includes(EMAIL_CATEGORY[t]) && EMAIL_CATEGORY[t] !== "admin");

/** The statements of a suppression, for the caller's own batch: a repeat writes nothing new. */
export function suppressEmailStatements(s: Pick<Services, "db" | "clock">, x: Suppression): BatchItem<"sqlite">[] {
  const categories = x.categories.filter((c) => c !== "admin");
  if (categories.length === 0) return [];
  const now = s.clock.now();
  const recipient = x.address ? or(eq(emailOutbox.userId, x.userId), eq(emailOutbox.to, x.address)) : eq(emailOutbox.userId, x.userId);
  return [
    s.db
      .insert(emailSuppressions)
      .values(categories.map((category) => ({ userId: x.userId, category, address: x.address, reason: x.reason, createdAt: now })))
      .onConflictDoNothing(),
    s.db
      .update(emailOutbox)
      .set({ status: "suppressed", nextAttemptAt: null, leaseUntil: null })
      .where(and(eq(emailOutbox.status, "pending"), inArray(emailOutbox.template, templatesOf(categories)), recipient)),
  ];
}

/** SQL true when the outbox row's recipient has its template's kind suppressed. */
export function isSuppressed(): SQL {
  const kind = sql.join(
    EMAIL_TEMPLATES.map((t) => sql`when ${t} then ${EMAIL_CATEGORY[t]}`),
    sql` `,
  );
  return sql`exists (select 1 from ${emailSuppressions} s where (s.user_id = ${emailOutbox.userId} or s.address = ${emailOutbox.to}) and s.category = (case ${emailOutbox.template} ${kind} end))`;
}

/** Marks the waiting emails of suppressed recipients `suppressed` (a lapsed send's too): run by the sweep before it claims. */
export function suppressedWaiting(db: Db, now: number) {
  const waiting = or(eq(emailOutbox.status, "pending"), and(eq(emailOutbox.status, "sending"), lt(emailOutbox.leaseUntil, now)));
  return db.update(emailOutbox).set({ status: "suppressed", nextAttemptAt: null, leaseUntil: null }).where(and(waiting, isSuppressed()));
}
