/**
 * A minimal RFC 5322 / MIME message for Cloudflare Email's `send_email` binding, which takes raw
 * MIME: multipart/alternative with a text and an HTML part, both UTF-8 in base64 (lines of 76),
 * non-ASCII header text as RFC 2047 encoded words, CRLF line ends. Nothing else is needed for a
 * transactional email, so no library.
 */
export interface MimeInput {
  /** `Name <address>` or a bare address. */
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  /** Unix ms, for the Date header. */
  date: number;
  /** Without angle brackets, e.g. `em_123@federaljobadvisor.com`. */
  messageId: string;
  headers?: Record<string, string>;
}

const utf8 = new TextEncoder();

function base64(s: string): string {
  const bytes = utf8.encode(s);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

const wrap76 = (s: string) => s.replace(/.{1,76}/g, "$&\r\n");

/** RFC 2047 `=?UTF-8?B?...?=` when the text is not plain printable ASCII; header-unsafe characters removed. */
export function encodeWord(s: string): string {
  const clean = s.replace(/[\r\n\u0000-\u001f\u007f]+/g, " ");
  if (/^[\x20-\x7e]*$/.test(clean)) return clean;
  // Encoded words are at most 75 characters: split the text into runs of whole characters.
  const words: string[] = [];
  let run = "";
  for (const ch of clean) {
    if (base64(run + ch).length > 45) {
      words.push(`=?UTF-8?B?${base64(run)}?=`);
      run = "";
    }
    run += ch;
  }
  if (run) words.push(`=?UTF-8?B?${base64(run)}?=`);
  return words.join("\r\n ");
}

/** The bare address of `Name <address>` or of an address. */
export function addressOf(mailbox: string): string {
  return (/<([^<>]+)>\s*$/.exec(mailbox)?.[1] ?? mailbox).trim();
}

/** `Name <address>` with the name encoded (RFC 2047) when needed. */
function mailboxHeader(mailbox: string): string {
  const address = addressOf(mailbox);
  const name = mailbox.includes("<") ? mailbox.slice(0, mailbox.lastIndexOf("<")).trim().replace(/^"|"$/g, "") : "";
  if (!name) return `<${address}>`;
  const encoded = encodeWord(name);
  return encoded === name ? `"${name.replace(/["\\]/g, "\\$&")}" <${address}>` : `${encoded} <${address}>`;
}

export function buildMime(m: MimeInput): string {
  const boundary = `=_alt_${m.messageId.replace(/[^A-Za-z0-9]/g, "")}`;
  const headers = [
    `From: ${mailboxHeader(m.from)}`,
    `To: <${addressOf(m.to)}>`,
    `Subject: ${encodeWord(m.subject)}`,
    `Date: ${new Date(m.date).toUTCString()}`,
    `Message-ID: <${m.messageId}>`,
    ...Object.entries(m.headers ?? {}).map(([k, v]) => `${k.replace(/[^A-Za-z0-9-]/g, "")}: ${encodeWord(v)}`),
    "MIME-Version: 1.0",
    `Content-Type: multipart/alternative; boundary="${boundary}"`,
  ];
  const part = (type: string, body: string) => [`--${boundary}`, `Content-Type: ${type}; charset=utf-8`, "Content-Transfer-Encoding: base64", "", wrap76(base64(body))].join("\r\n");
  return `${headers.join("\r\n")}\r\n\r\n${part("text/plain", m.text)}${part("text/html", m.html)}--${boundary}--\r\n`;
}
