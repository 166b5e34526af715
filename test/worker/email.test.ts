import { env } from "cloudflare:test";
import { like } from "drizzle-orm";
import { beforeEach, describe, expect, inject, it } from "vitest";
import { emailOutbox } from "../../worker/src/db/schema";
import { buildMime } from "../../worker/src/email/mime";
import { emailByKey, enqueueEmail, enqueueEmailNow, type EmailToEnqueue } from "../../worker/src/email/outbox";
import { EMAIL_BACKOFF_MS, sendDueEmails } from "../../worker/src/email/sweep";
import { EMAIL_TEMPLATES, formatMoney, renderEmail, type EmailInput } from "../../worker/src/email/templates";
import type { Env } from "../../worker/src/env";
import { fixedClock } from "../../worker/src/clock";
import { services } from "../../worker/src/wiring";
import { call, makeKey, svc } from "./helpers";

const PREFIX = "emailtest:";
const usd = (amount: number) => ({ amount, currency: "usd" });
const DAY = 86_400_000;
const T0 = Date.UTC(2026, 2, 5, 12);
let seq = 0;
const key = (what: string) => `${PREFIX}${what}:${++seq}`;

function soft(over: { amountDue?: { amount: number; currency: string }; hasPaymentMethod?: boolean } = {}): EmailInput {
  return { template: "dunning_soft", plan: "Federal Job Advisor Local", amountDue: usd(2900), hasPaymentMethod: true, suspendAt: T0 + 21 * DAY, ...over };
}

function email(over: Partial<EmailToEnqueue> = {}): EmailToEnqueue {
  return { key: key("soft"), to: "pat@example.com", userId: "email_user", email: soft(), ...over };
}

/** Services whose email settings are overridden (a new env object: config is parsed per object). */
function withEmail(vars: Partial<Env>, at: number, d1?: D1Database) {
  return services({ ...env, ...vars }, fixedClock(at), d1 ? { d1 } : {});
}

const resend = (path: string) => ({ EMAIL_TRANSPORT: "resend" as const, RESEND_API_KEY: "re_test_key", RESEND_API_BASE: `${inject("emailServerBase")}${path}` });

async function requestsFor(k: string) {
  const all = (await (await fetch(`${inject("emailServerBase")}/_requests`)).json()) as { key: string; authorization: string; status: number; to: string[] }[];
  return all.filter((r) => r.key === k);
}

beforeEach(async () => {
  // Every test leaves nothing due behind for the next one's sweeps.
  await svc()
    .db.delete(emailOutbox)
    .where(like(emailOutbox.idempotencyKey, `${PREFIX}%`));
});

describe("email outbox", () => {
  it("enqueuing the same key twice stores one email, alone or inside a caller's batch", async () => {
    const s = svc(T0);
    const e = email();
    expect(await enqueueEmailNow(s, e)).toBe(true);
    expect(await enqueueEmailNow(s, { ...e, email: soft({ amountDue: usd(4900) }) })).toBe(false);
    const [first, again] = await s.db.batch([enqueueEmail(s, { ...e, key: `${e.key}:b` }), enqueueEmail(s, { ...e, key: `${e.key}:b` })]);
    expect([first.meta.changes, again.meta.changes]).toEqual([1, 0]);
    const rows = await s.db
      .select()
      .from(emailOutbox)
      .where(like(emailOutbox.idempotencyKey, `${e.key}%`))
      .all();
    expect(rows).toHaveLength(2);
    const row = (await emailByKey(s.db, e.key))!;
    // The first enqueue's rendering stands.
    expect(row).toMatchObject({ status: "pending", attempts: 0, nextAttemptAt: T0, createdAt: T0, template: "dunning_soft", to: "pat@example.com", userId: "email_user" });
    expect(row.text).toContain("$29.00");
  });

  it("the log transport sends a due email, and GET /v1/emails shows it to admins with its rendered subject and bodies, newest first, filtered and paged", async () => {
    const s = svc(T0);
    const user = `email_log_${Date.now()}`;
    const keys = [key("a"), key("b"), key("c")];
    for (const [i, k] of keys.entries()) await enqueueEmailNow(svc(T0 + i), email({ key: k, userId: user }));
    const swept = await sendDueEmails(svc(T0 + 10));
    expect(swept.sent).toBeGreaterThanOrEqual(3);
    const row = (await emailByKey(s.db, keys[0]!))!;
    expect(row).toMatchObject({ status: "sent", provider: "log", providerMessageId: `log_${row.id}`, attempts: 1, sentAt: T0 + 10, leaseUntil: null, nextAttemptAt: null });

    const { key: admin } = await makeKey("admin");
    const res = await call("GET", `/v1/emails?user_id=${user}&status=sent&limit=2`, { key: admin });
    expect(res.status).toBe(200);
    const page = (await res.json()) as {
      data: { id: string; idempotency_key: string; subject: string; text: string; html: string; provider: string; status: string; sent_at: string }[];
      has_more: boolean;
    };
    expect(page.data.map((d) => d.idempotency_key)).toEqual([keys[2], keys[1]]);
    expect(page.has_more).toBe(true);
    expect(page.data[0]).toMatchObject({ status: "sent", provider: "log", subject: "Your Federal Job Advisor Local payment did not go through", sent_at: new Date(T0 + 10).toISOString() });
    expect(page.data[0]!.text).toContain("https://app.test/billing");
    expect(page.data[0]!.html).toContain('href="https://app.test/billing"');
    const next = (await (await call("GET", `/v1/emails?user_id=${user}&limit=2&starting_after=${page.data[1]!.id}`, { key: admin })).json()) as typeof page;
    expect(next.data.map((d) => d.idempotency_key)).toEqual([keys[0]]);
    expect(next.has_more).toBe(false);

    expect((await call("GET", "/v1/emails?starting_after=em_nope", { key: admin })).status).toBe(400);
    for (const role of ["service", "analyst"] as const) expect((await call("GET", "/v1/emails", { key: (await makeKey(role)).key })).status).toBe(403);
  });

  it("provider failure: Resend answering 500 three times and then 200 sends the email exactly once after 4 attempts, and loses nothing meanwhile", async () => {
    const e = email({ key: key("outage") });
    await enqueueEmailNow(svc(T0), e);
    const vars = resend("/fail/3");
    let at = T0;
    for (const [i, wait] of [0, EMAIL_BACKOFF_MS[0], EMAIL_BACKOFF_MS[1]].entries()) {
      at += wait;
      // Just before the backoff is over, nothing is sent.
      if (wait) expect(await sendDueEmails(withEmail(vars, at - 1))).toEqual({ sent: 0, retrying: 0, failed: 0 });
      expect(await sendDueEmails(withEmail(vars, at))).toEqual({ sent: 0, retrying: 1, failed: 0 });
      const row = (await emailByKey(svc().db, e.key))!;
      expect(row).toMatchObject({ status: "pending", attempts: i + 1, nextAttemptAt: at + EMAIL_BACKOFF_MS[i]!, provider: "resend" });
      expect(row.lastError).toContain("Resend answered 500");
    }
    at += EMAIL_BACKOFF_MS[2];
    expect(await sendDueEmails(withEmail(vars, at))).toEqual({ sent: 1, retrying: 0, failed: 0 });
    expect(await sendDueEmails(withEmail(vars, at + DAY))).toEqual({ sent: 0, retrying: 0, failed: 0 });
    const row = (await emailByKey(svc().db, e.key))!;
    expect(row).toMatchObject({ status: "sent", attempts: 4, provider: "resend", sentAt: at, lastError: null });
    expect(row.providerMessageId).toMatch(/^re_/);
    const seen = await requestsFor(e.key);
    expect(seen.map((r) => r.status)).toEqual([500, 500, 500, 200]);
    expect(seen.every((r) => r.authorization === "Bearer re_test_key" && r.to[0] === "pat@example.com")).toBe(true);
  });

  it("a rejection the provider calls permanent fails the email at once; missing settings fail the tick before any email is taken", async () => {
    const rejected = email({ key: key("rejected") });
    await enqueueEmailNow(svc(T0), rejected);
    expect(await sendDueEmails(withEmail(resend("/reject"), T0))).toEqual({ sent: 0, retrying: 0, failed: 1 });
    expect(await emailByKey(svc().db, rejected.key)).toMatchObject({ status: "failed", attempts: 1, nextAttemptAt: null });

    const waiting = email({ key: key("unconfigured") });
    await enqueueEmailNow(svc(T0), waiting);
    await expect(sendDueEmails(withEmail({ EMAIL_TRANSPORT: "resend" }, T0))).rejects.toThrow(/RESEND_API_KEY/);
    expect(await emailByKey(svc().db, waiting.key)).toMatchObject({ status: "pending", attempts: 0 });
  });

  it("two sweeps racing on separate D1 handles send each email once", async () => {
    const keys = Array.from({ length: 12 }, () => key("race"));
    for (const k of keys) await enqueueEmailNow(svc(T0), email({ key: k, to: "race@example.com" }));
    const vars = resend("/fail/0");
    // Small batches, each sweep going on until nothing is due, so the two interleave their claims.
    const sweeps = async (d1?: D1Database) => {
      let sent = 0;
      for (let r; (r = await sendDueEmails(withEmail(vars, T0, d1), 3)).sent > 0; ) sent += r.sent;
      return sent;
    };
    const [a, b] = await Promise.all([sweeps(), sweeps(env.DB_RACE)]);
    expect(a + b).toBe(12);
    for (const k of keys) {
      expect(await emailByKey(svc().db, k)).toMatchObject({ status: "sent", attempts: 1 });
      expect((await requestsFor(k)).map((r) => r.status)).toEqual([200]);
    }
  });
});

describe("email wording", () => {
  const ctx = { billingUrl: "https://app.test/billing" };
  const pastDue = (hasPaymentMethod: boolean): EmailInput[] => [
    ...(["dunning_soft", "dunning_urgent", "dunning_final", "hard_decline"] as const).map((template) => ({
      template,
      plan: "Federal Job Advisor Mobile",
      amountDue: usd(4900),
      hasPaymentMethod,
      suspendAt: T0 + 21 * DAY,
    })),
    { template: "suspended", plan: "Federal Job Advisor Mobile", amountDue: usd(4900), hasPaymentMethod },
  ];
  const all = (e: { subject: string; text: string; html: string }) => `${e.subject}\n${e.text}\n${e.html}`;

  it("a customer with no payment method on file is asked to add a card, never told a card was declined", () => {
    for (const input of pastDue(false)) {
      const out = all(renderEmail(input, ctx));
      expect(out, input.template).toMatch(/add a card/i);
      expect(out, input.template).not.toMatch(/declin|your card|another card/i);
    }
    const trial = renderEmail({ template: "trial_ending", plan: "Federal Job Advisor Mobile", trialEndsAt: T0, hasPaymentMethod: false, amountAfterTrial: usd(4900) }, ctx);
    expect(all(trial)).toMatch(/add a card/i);
    expect(all(trial)).not.toMatch(/card on file will be charged/i);
    for (const input of pastDue(true)) expect(all(renderEmail(input, ctx)), input.template).not.toMatch(/add a card/i);
    expect(all(renderEmail(pastDue(true)[0]!, ctx))).toMatch(/your card was declined/);
    expect(all(renderEmail(pastDue(true)[3]!, ctx))).toMatch(/use another card/i);
  });

  it("a past-due notice never says trial", () => {
    for (const input of [...pastDue(true), ...pastDue(false)]) expect(all(renderEmail(input, ctx)), input.template).not.toMatch(/trial/i);
  });

  it("amounts are integer cents rendered as exact dollars", () => {
    expect([0, 1, 99, 2900, 4900, 29000, 123456789].map((amount) => formatMoney(usd(amount)))).toEqual(["$0.00", "$0.01", "$0.99", "$29.00", "$49.00", "$290.00", "$1,234,567.89"]);
    expect(formatMoney({ amount: 500, currency: "eur" })).toBe("5.00 EUR");
    expect(formatMoney({ amount: 500, currency: "jpy" })).toBe("500 JPY");
    expect(() => formatMoney(usd(29.5))).toThrow(/integer/);
    const urgent = renderEmail({ template: "dunning_urgent", plan: "Federal Job Advisor Local", amountDue: usd(2901), hasPaymentMethod: true, suspendAt: T0 }, ctx);
    expect(urgent.subject).toBe("Action needed: $29.01 is past due for Federal Job Advisor Local");
    expect(renderEmail({ template: "payment_recovered", plan: "Federal Job Advisor Local", amountPaid: usd(3110) }, ctx).text).toContain("your payment of $31.10 went through");
  });

  it("the cancellation after a suspension names the unpaid amount, says billing stopped, and offers to subscribe again", () => {
    const out = renderEmail({ template: "subscription_canceled", name: "Pat", plan: "Federal Job Advisor Local", amountUnpaid: usd(3110) }, ctx);
    expect(out.subject).toBe("Your Federal Job Advisor Local subscription is canceled");
    expect(out.text).toContain("because $31.10 stayed unpaid");
    expect(out.text).toContain("will not bill you again");
    expect(out.text).toContain("Subscribe again: https://app.test/billing");
  });

  it("the disabled endpoint's email names the endpoint, since when it failed, and how to bring it back", () => {
    const out = renderEmail({ template: "webhook_endpoint_disabled", plan: "billing", endpointId: "we_abc", endpointUrl: "https://hooks.example.com/x", failingSince: T0 }, ctx);
    expect(out.subject).toBe("Webhook endpoint we_abc is disabled");
    expect(out.text).toContain("https://hooks.example.com/x");
    expect(out.text).toContain("enabled: true");
    expect(out.text).toContain("/replay");
  });

  it("the HTML body escapes every input and the subject keeps no line break", () => {
    const evil = `<script>alert("x")</script> & 'co'`;
    const out = renderEmail(
      { template: "retention_offer_confirmed", name: evil, plan: `Plan <b>\r\nBcc: x@evil.test`, offer: `<img src=x onerror=alert(1)>`, effectiveAt: T0 },
      { billingUrl: `https://app.test/billing?a=1&b="2"` },
    );
    expect(out.html).not.toMatch(/<script|<img|<b>/);
    expect(out.html).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;co&#39;");
    expect(out.html).toContain('href="https://app.test/billing?a=1&amp;b=&quot;2&quot;"');
    expect(out.subject).not.toMatch(/[\r\n]/);
    expect(out.text).toContain(`<img src=x onerror=alert(1)>`);
  });

  it("every template carries the link to update the payment method, in text and HTML", () => {
    const inputs: EmailInput[] = [
      { template: "trial_ending", plan: "P", trialEndsAt: T0, hasPaymentMethod: true, amountAfterTrial: usd(2900) },
      ...pastDue(true),
      { template: "payment_recovered", plan: "P", amountPaid: usd(2900) },
      { template: "subscription_canceled", plan: "P", amountUnpaid: usd(2900) },
      { template: "retention_offer_confirmed", plan: "P", offer: "25% off your next 2 months", effectiveAt: T0 },
      { template: "webhook_endpoint_disabled", plan: "P", endpointId: "we_1", endpointUrl: "https://hooks.example.com/x", failingSince: T0 },
      { template: "organization_renewal_reminder", plan: "P", termEndsAt: T0, daysLeft: 30, seats: 25 },
      {
        template: "organization_invoice_overdue",
        plan: "P",
        invoiceNumber: "ABC-0001",
        amountDue: usd(975_000),
        dueDate: T0,
        daysOverdue: 15,
        invoiceUrl: "https://invoice.test/i/1",
        poNumber: "PO-1",
      },
    ];
    expect(new Set(inputs.map((i) => i.template))).toEqual(new Set(EMAIL_TEMPLATES));
    for (const input of inputs) {
      const out = renderEmail(input, ctx);
      expect(out.text, input.template).toContain("https://app.test/billing");
      expect(out.html, input.template).toContain('href="https://app.test/billing"');
    }
  });

  it("the Cloudflare Email MIME message is multipart/alternative with CRLF lines and the bodies in base64", () => {
    const mime = buildMime({
      from: "Fédéral Jobs <billing@example.com>",
      to: "pat@example.com",
      subject: "Paiement reçu",
      text: "Merci — $29.00",
      html: "<p>Merci</p>",
      date: T0,
      messageId: "em_1@example.com",
    });
    expect(mime).not.toMatch(/[^\r]\n/);
    expect(mime).toContain("Subject: =?UTF-8?B?");
    expect(mime).toContain("From: =?UTF-8?B?");
    expect(mime).toContain("Message-ID: <em_1@example.com>");
    const parts = mime.split(/--=_alt_\S+/);
    const decode = (part: string) => new TextDecoder().decode(Uint8Array.from(atob(part.split("\r\n\r\n")[1]!.replace(/\r\n/g, "")), (c) => c.charCodeAt(0)));
    expect(decode(parts[1]!)).toBe("Merci — $29.00");
    expect(decode(parts[2]!)).toBe("<p>Merci</p>");
  });
});
