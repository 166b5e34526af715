import { createServer as createHttpServer } from "node:http";
import { createServer, type AddressInfo, type Socket } from "node:net";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  interface ProvidedContext {
    /** The SMTP server below: host and port for SMTP_HOST/SMTP_PORT, and where to read what it received. */
    smtpHost: string;
    smtpPort: number;
    smtpInbox: string;
    smtpUser: string;
    smtpPassword: string;
  }
}

const SMTP_USER = "mailer";
const SMTP_PASSWORD = "s3cret-pass";

interface Received {
  user: string | null;
  from: string;
  to: string[];
  /** The message as sent after DATA, dot-unstuffed, CRLF line ends kept. */
  data: string;
}

/**
 * A small SMTP server on loopback for the email transport tests (email-transports.test.ts): the
 * worker in workerd reaches it through a Workers TCP socket, as it would reach a provider's
 * submission port. It speaks the commands a client sends (EHLO, AUTH PLAIN/LOGIN, MAIL, RCPT,
 * DATA, RSET, NOOP, QUIT), refuses wrong credentials with 535, and answers RCPT for
 * `reject@…` with 550 (permanent) and `busy@…` with 451 (temporary). No STARTTLS: workerd's
 * socket could not trust a test certificate. `GET /` on the inbox URL lists what was accepted.
 */
export default async function setup(project: TestProject) {
  const inbox: Received[] = [];
  const open = new Set<Socket>();
  const smtp = createServer((socket: Socket) => {
    open.add(socket);
    socket.on("close", () => open.delete(socket));
    let buffer = "";
    let user: string | null = null;
    let loginStep: "user" | "password" | null = null;
    let loginUser = "";
    let from: string | null = null;
    let to: string[] = [];
    let data: string[] | null = null;
    const reply = (line: string) => socket.write(`${line}\r\n`);
    const reset = () => {
      from = null;
      to = [];
      data = null;
    };
    const authenticate = (name: string, password: string) => {
      if (name === SMTP_USER && password === SMTP_PASSWORD) {
        user = name;
        reply("235 2.7.0 Authentication successful");
      } else reply("535 5.7.8 Authentication credentials invalid");
    };
    const command = (line: string) => {
      if (data !== null) {
        if (line === ".") {
          inbox.push({ user, from: from!, to, data: data.join("\r\n") + "\r\n" });
          reply(`250 2.0.0 Ok: queued as Q${inbox.length}`);
          reset();
        } else data.push(line.startsWith("..") ? line.slice(1) : line);
        return;
      }
      if (loginStep === "user") {
        loginUser = Buffer.from(line, "base64").toString("utf8");
        loginStep = "password";
        reply("334 UGFzc3dvcmQ6");
        return;
      }
      if (loginStep === "password") {
        loginStep = null;
        authenticate(loginUser, Buffer.from(line, "base64").toString("utf8"));
        return;
      }
      const verb = line.split(" ")[0]!.toUpperCase();
      const address = /<([^>]*)>/.exec(line)?.[1] ?? "";
      switch (verb) {
        case "EHLO":
          reply("250-localhost greets you");
          reply("250-AUTH PLAIN LOGIN");
          reply("250 8BITMIME");
          return;
        case "HELO":
          return reply("250 localhost");
        case "AUTH": {
          const [, mechanism, initial] = line.split(" ");
          if (mechanism?.toUpperCase() === "PLAIN" && initial) {
            const [, name, password] = Buffer.from(initial, "base64").toString("utf8").split("\0");
            return authenticate(name ?? "", password ?? "");
          }
          if (mechanism?.toUpperCase() === "LOGIN") {
            loginStep = "user";
            return reply("334 VXNlcm5hbWU6");
          }
          return reply("504 5.5.4 Unrecognized authentication type");
        }
        case "MAIL":
          if (user === null) return reply("530 5.7.0 Authentication required");
          from = address;
          return reply("250 2.1.0 Ok");
        case "RCPT":
          if (from === null) return reply("503 5.5.1 Need MAIL first");
          if (address.startsWith("reject@")) return reply("550 5.1.1 Mailbox unavailable");
          if (address.startsWith("busy@")) return reply("451 4.3.0 Try again later");
          to.push(address);
          return reply("250 2.1.5 Ok");
        case "DATA":
          if (to.length === 0) return reply("503 5.5.1 Need RCPT first");
          data = [];
          return reply("354 End data with <CR><LF>.<CR><LF>");
        case "RSET":
          reset();
          return reply("250 2.0.0 Ok");
        case "NOOP":
          return reply("250 2.0.0 Ok");
        case "QUIT":
          reply("221 2.0.0 Bye");
          socket.end();
          return;
        default:
          return reply("502 5.5.2 Command not recognized");
      }
    };
    socket.on("data", (chunk: Buffer) => {
      buffer += chunk.toString("utf8");
      let end: number;
      while ((end = buffer.indexOf("\r\n")) !== -1) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        command(line);
      }
    });
    socket.on("error", () => socket.destroy());
    reply("220 localhost ESMTP test server");
  });
  const http = createHttpServer((_req, res) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(inbox)));
  await new Promise<void>((resolve) => smtp.listen(0, "127.0.0.1", resolve));
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  project.provide("smtpHost", "127.0.0.1");
  project.provide("smtpPort", (smtp.address() as AddressInfo).port);
  project.provide("smtpInbox", `http://127.0.0.1:${(http.address() as AddressInfo).port}/`);
  project.provide("smtpUser", SMTP_USER);
  project.provide("smtpPassword", SMTP_PASSWORD);
  return async () => {
    for (const socket of open) socket.destroy();
    await new Promise<void>((resolve) => http.close(() => resolve()));
    await new Promise<void>((resolve) => smtp.close(() => resolve()));
  };
}
