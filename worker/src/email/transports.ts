/**
 * Where the outbox's emails go, chosen by EMAIL_TRANSPORT (env.ts): `log` (local use: nothing
 * leaves the worker, the row is marked sent and is readable at GET /v1/emails), Resend's HTTP
 * API, Cloudflare Email (the `send_email` binding) or SMTP over Workers TCP sockets
 * (worker-mailer). A transport returns the provider's message id or throws an EmailSendError
 * saying whether trying again later can help.
 */
import type { Clock } from "../clock";
import type { EmailConfig } from "../env";
import type { Logger } from "../log";
import { addressOf, buildMime } from "./mime";

export type TransportName = EmailConfig["EMAIL_TRANSPORT"];

export interface OutgoingEmail {
  /** The outbox row's id. */
  id: string;
  idempotencyKey: string;
  to: string;
  subject: string;
  text: string;
  html: string;
}

export interface EmailTransport {
  readonly name: TransportName;
  /** @returns the provider's message id. */
  send(email: OutgoingEmail): Promise<string>;
}

/** A send that failed; `retryable` false means trying again cannot help (a rejected address, a bad key). */
export class EmailSendError extends Error {
  override readonly name = "EmailSendError";
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
  ) {
    super(message);
  }
}

const SEND_TIMEOUT_MS = 10_000;

export function logTransport(log: Logger): EmailTransport {
  return {
    name: "log",
    async send(e) {
      // Metadata only: the rendered body is in the outbox row (GET /v1/emails).
      log.log("info", "email sent (log transport)", { email_id: e.id, idempotency_key: e.idempotencyKey, subject: e.subject });
      return `log_${e.id}`;
    },
  };
}

/** Resend: POST {base}/emails with the outbox key as Idempotency-Key, so a repeated send is one email. */
export function resendTransport(config: { apiKey: string; baseUrl: string; from: string }, fetcher: typeof fetch = fetch): EmailTransport {
  const url = `${config.baseUrl.replace(/\/+$/, "")}/emails`;
  return {
    name: "resend",
    async send(e) {
      let response: Response;
      try {
        response = await fetcher(url, {
          method: "POST",
          headers: { authorization: `Bearer ${config.apiKey}`, "content-type": "application/json", "idempotency-key": e.idempotencyKey.slice(0, 256) },
          body: JSON.stringify({ from: config.from, to: [e.to], subject: e.subject, text: e.text, html: e.html }),
          signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
        });
      } catch (error) {
        throw new EmailSendError(`Resend unreachable: ${String((error as Error)?.message ?? error)}`, true);
      }
      const body = await response.text();
      if (response.ok) {
        const id = (() => {
          try {
            return (JSON.parse(body) as { id?: unknown }).id;
          } catch {
            return undefined;
          }
        })();
        if (typeof id !== "string" || !id) throw new EmailSendError(`Resend answered ${response.status} without an id`, true, response.status);
        return id;
      }
      // 429 and 5xx are Resend's to recover from; 409 is a concurrent request with the same key.
      const retryable = response.status === 429 || response.status === 409 || response.status >= 500;
      throw new EmailSendError(`Resend answered ${response.status}: ${body.slice(0, 300)}`, retryable, response.status);
    },
  };
}

/** Cloudflare Email: a raw MIME message through the `send_email` binding. */
export function cloudflareTransport(config: { binding: SendEmail; from: string; clock: Clock }): EmailTransport {
  const domain = addressOf(config.from).split("@")[1] ?? "localhost";
  return {
    name: "cloudflare",
    async send(e) {
      const messageId = `${e.id}@${domain}`;
      const raw = buildMime({ from: config.from, to: e.to, subject: e.subject, text: e.text, html: e.html, date: config.clock.now(), messageId, headers: { "X-Entity-Ref-ID": e.idempotencyKey } });
      try {
        // Loaded when used: the module exists only in workerd.
        const { EmailMessage } = await import("cloudflare:email");
        const result = (await config.binding.send(new EmailMessage(addressOf(config.from), addressOf(e.to), raw))) as EmailSendResult | undefined;
        return result?.messageId || `<${messageId}>`;
      } catch (error) {
        const message = String((error as Error)?.message ?? error);
        // A destination or sender the account does not allow will not become allowed by waiting.
        const permanent = /not (verified|allowed|authori[sz]ed)|invalid|malformed/i.test(message);
        throw new EmailSendError(`Cloudflare Email: ${message}`, !permanent);
      }
    },
  };
}

/** SMTP over a Workers TCP socket (worker-mailer); port 465 is implicit TLS, others STARTTLS. */
export function smtpTransport(config: { host: string; port: number; user: string; password: string; from: string }): EmailTransport {
  const domain = addressOf(config.from).split("@")[1] ?? "localhost";
  // worker-mailer takes a string `from` as the bare address (MAIL FROM:<...>): `Name <address>`
  // must be split, or the envelope sender is malformed and servers refuse it.
  const name = config.from.includes("<") ? config.from.slice(0, config.from.lastIndexOf("<")).trim().replace(/^"|"$/g, "") : "";
  const from = name ? { name, email: addressOf(config.from) } : addressOf(config.from);
  return {
    name: "smtp",
    async send(e) {
      const messageId = `<${e.id}@${domain}>`;
      try {
        const { WorkerMailer } = await import("worker-mailer");
        await WorkerMailer.send(
          {
            host: config.host,
            port: config.port,
            secure: config.port === 465,
            startTls: config.port !== 465,
            credentials: { username: config.user, password: config.password },
            authType: ["plain", "login"],
            socketTimeoutMs: SEND_TIMEOUT_MS,
            responseTimeoutMs: SEND_TIMEOUT_MS,
          },
          { from, to: e.to, subject: e.subject, text: e.text, html: e.html, headers: { "Message-ID": messageId, "X-Entity-Ref-ID": e.idempotencyKey } },
        );
        return messageId;
      } catch (error) {
        const message = String((error as Error)?.message ?? error);
        // SMTP 5xx replies are permanent (a refused recipient, failed authentication); the rest is not.
        throw new EmailSendError(`SMTP: ${message}`, !/\b5\d\d\b/.test(message));
      }
    },
  };
}

export function emailTransport(config: EmailConfig, deps: { log: Logger; clock: Clock }): EmailTransport {
  switch (config.EMAIL_TRANSPORT) {
    case "log":
      return logTransport(deps.log);
    case "resend":
      return resendTransport({ apiKey: config.RESEND_API_KEY!, baseUrl: config.RESEND_API_BASE, from: config.EMAIL_FROM });
    case "cloudflare":
      return cloudflareTransport({ binding: config.EMAIL!, from: config.EMAIL_FROM, clock: deps.clock });
    case "smtp":
      return smtpTransport({ host: config.SMTP_HOST!, port: config.SMTP_PORT, user: config.SMTP_USER!, password: config.SMTP_PASSWORD!, from: config.EMAIL_FROM });
  }
}
