/**
 * The outbox sweep sending through the transports that leave the machine, each against a real
 * counterpart on this one: Cloudflare Email through the `send_email` binding as Miniflare runs it
 * (it parses the MIME message, checks the envelope against the From header and the binding's
 * allowed destinations), and SMTP through worker-mailer over a Workers TCP socket to an SMTP
 * server on loopback (smtp-server.ts). The outbox rows are dated at a fixed past time, so these
 * sweeps take only this file's emails.
 */
import { env } from "cloudflare:test";
import { like } from "drizzle-orm";
import { beforeEach, describe, expect, inject, it } from "vitest";
import { fixedClock } from "../../worker/src/clock";
import { emailOutbox } from "../../worker/src/db/schema";
import { emailByKey, enqueueEmailNow } from "../../worker/src/email/outbox";
import { EMAIL_BACKOFF_MS, sendDueEmails } from "../../worker/src/email/sweep";
import { renderEmail, type EmailInput } from "../../worker/src/email/templates";
import type { Env } from "../../worker/src/env";
import { services } from "../../worker/src/wiring";

const PREFIX = "transporttest:";
const T0 = Date.UTC(2025, 0, 6, 12);
const DAY = 86_400_000;
let seq = 0;
const key = (what: string) => `${PREFIX}${what}:${++seq}`;

const final: EmailInput = {
  template: "dunning_final",
  name: "Pat Doe",
  plan: "Federal Job Advisor Local",
  amountDue: { amount: 2900, currency: "usd" },
  hasPaymentMethod: false,
  suspendAt: T0 + 21 * DAY,
};

function withEmail(vars: Partial<Env>) {
  return services({ ...env, ...vars }, fixedClock(T0));
}

const smtp = (over: Partial<Env> = {}): Partial<Env> => ({
  EMAIL_TRANSPORT: "smtp",
  SMTP_HOST: inject("smtpHost"),
  SMTP_PORT: String(inject("smtpPort")),
  SMTP_USER: inject("smtpUser"),
  SMTP_PASSWORD: inject("smtpPassword"),
  ...over,
});

interface Received {
  user: string | null;
  from: string;
  to: string[];
  data: string;
}
const inbox = async () => (await (await fetch(inject("smtpInbox"))).json()) as Received[];

/** The value of a header in a raw message (unfolded). */
function header(raw: string, name: string): string | undefined {
  const head = raw.split("\r\n\r\n")[0]!.replace(/\r\n[ \t]+/g, " ");
  return head
    .split("\r\n")
    .find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`))
    ?.slice(name.length + 1)
    .trim();
}

beforeEach(async () => {
  await withEmail({})
    .db.delete(emailOutbox)
    .where(like(emailOutbox.idempotencyKey, `${PREFIX}%`));
});

describe("Cloudflare Email transport (send_email binding)", () => {
  it("sends a due email as a MIME message the binding accepts, and records the message id it answers", async () => {
    const s = withEmail({ EMAIL_TRANSPORT: "cloudflare" });
    const k = key("cf");
    expect(await enqueueEmailNow(s, { key: k, to: "pat@example.com", userId: "transport_user", email: final })).toBe(true);
    expect(await sendDueEmails(s, 100)).toMatchObject({ sent: 1 });
    const row = await emailByKey(s.db, k);
    expect(row).toMatchObject({ status: "sent", provider: "cloudflare", attempts: 1, lastError: null });
    expect(row?.providerMessageId).toMatch(/^<?[^\s<>]+@[^\s<>]+>?$/);
    // Sent is sent: another sweep sends nothing.
    expect(await sendDueEmails(s, 100)).toMatchObject({ sent: 0 });
  });

  it("fails an email at once, without retries, when the binding does not allow its destination", async () => {
    const s = withEmail({ EMAIL_TRANSPORT: "cloudflare" });
    const k = key("cf-refused");
    await enqueueEmailNow(s, { key: k, to: "lee@example.com", email: final });
    await sendDueEmails(s, 100);
    const row = await emailByKey(s.db, k);
    expect(row).toMatchObject({ status: "failed", provider: "cloudflare", attempts: 1, nextAttemptAt: null });
    expect(row?.lastError).toContain("not allowed");
  });
});

describe("SMTP transport (worker-mailer over a Workers TCP socket)", () => {
  it("authenticates and delivers the rendered email to the SMTP server, with the outbox's message id and key", async () => {
    const s = withEmail(smtp());
    const k = key("smtp");
    await enqueueEmailNow(s, { key: k, to: "pat@example.com", userId: "transport_user", email: final });
    expect(await sendDueEmails(s, 100)).toMatchObject({ sent: 1 });
    const row = (await emailByKey(s.db, k))!;
    expect(row).toMatchObject({ status: "sent", provider: "smtp", attempts: 1 });
    const received = (await inbox()).filter((m) => header(m.data, "X-Entity-Ref-ID") === k);
    expect(received).toHaveLength(1);
    const m = received[0]!;
    expect(m).toMatchObject({ user: inject("smtpUser"), from: "billing@federaljobadvisor.com", to: ["pat@example.com"] });
    expect(header(m.data, "Message-ID")).toBe(row.providerMessageId);
    const rendered = renderEmail(final, { billingUrl: "https://app.test/billing" });
    expect(header(m.data, "Subject")).toBe(rendered.subject);
    expect(header(m.data, "To")).toContain("pat@example.com");
    expect(header(m.data, "From")).toBe('"Federal Job Advisor" <billing@federaljobadvisor.com>');
    // The text and HTML parts as sent, whatever transfer encoding the mailer chose.
    expect(decodedParts(m.data).some((p) => p.includes("There is no card on file for your Federal Job Advisor Local subscription"))).toBe(true);
    expect(decodedParts(m.data).some((p) => p.includes('<a href="https://app.test/billing"'))).toBe(true);
  });

  it("a recipient the server refuses for good (550) fails the email at once; a temporary refusal (451) keeps it for the next attempt", async () => {
    const s = withEmail(smtp());
    const refused = key("smtp-550");
    const busy = key("smtp-451");
    await enqueueEmailNow(s, { key: refused, to: "reject@example.com", email: final });
    await enqueueEmailNow(s, { key: busy, to: "busy@example.com", email: final });
    await sendDueEmails(s, 100);
    expect(await emailByKey(s.db, refused)).toMatchObject({ status: "failed", attempts: 1, nextAttemptAt: null });
    const kept = await emailByKey(s.db, busy);
    expect(kept).toMatchObject({ status: "pending", attempts: 1, nextAttemptAt: T0 + EMAIL_BACKOFF_MS[0] });
    expect(kept?.lastError).toContain("451");
  });

  it("wrong credentials (535) fail the email without sending it", async () => {
    const s = withEmail(smtp({ SMTP_PASSWORD: "wrong-password" }));
    const k = key("smtp-535");
    const before = (await inbox()).length;
    await enqueueEmailNow(s, { key: k, to: "pat@example.com", email: final });
    await sendDueEmails(s, 100);
    const row = await emailByKey(s.db, k);
    expect(row).toMatchObject({ status: "failed", attempts: 1 });
    expect(row?.lastError).toContain("535");
    expect((await inbox()).length).toBe(before);
  });
});

/** The bodies of a raw MIME message's leaf parts, decoded from base64 or quoted-printable. */
function decodedParts(raw: string): string[] {
  const out: string[] = [];
  const boundaries = [...raw.matchAll(/boundary="?([^";\r\n]+)"?/gi)].map((b) => b[1]!);
  const chunks = boundaries.length ? raw.split(new RegExp(`--(?:${boundaries.map((b) => b.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|")})(?:--)?`)) : [raw];
  for (const chunk of chunks) {
    const at = chunk.indexOf("\r\n\r\n");
    if (at === -1) continue;
    const head = chunk.slice(0, at).toLowerCase();
    const body = chunk.slice(at + 4);
    if (head.includes("multipart/")) continue;
    if (head.includes("content-transfer-encoding: base64")) out.push(new TextDecoder().decode(Uint8Array.from(atob(body.replace(/\s+/g, "")), (c) => c.charCodeAt(0))));
    else if (head.includes("content-transfer-encoding: quoted-printable")) {
      const bytes = body.replace(/=\r\n/g, "").replace(/=([0-9A-F]{2})/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
      out.push(new TextDecoder().decode(Uint8Array.from(bytes, (c) => c.charCodeAt(0))));
    } else out.push(body);
  }
  return out;
}
