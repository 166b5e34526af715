import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  interface ProvidedContext {
    /** A stand-in for Resend's API (email.test.ts); see below. */
    emailServerBase: string;
  }
}

/**
 * A stand-in for Resend's HTTP API for the email tests, on loopback: `POST /fail/<n>/emails`
 * answers 500 to the first n requests of each Idempotency-Key and then 200 `{ id }` (the same id
 * for a key, as Resend's idempotency does); `POST /reject/emails` answers 422. `GET /_requests`
 * lists every request received: its key, bearer and answer.
 */
export default async function setup(project: TestProject) {
  const requests: { key: string | null; authorization: string | null; status: number; to: unknown }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://localhost");
      if (req.method === "GET" && url.pathname === "/_requests") {
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(requests));
        return;
      }
      const key = (req.headers["idempotency-key"] as string | undefined) ?? null;
      let body: { to?: unknown } = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { to?: unknown };
      } catch {
        /* answered below */
      }
      const fail = /^\/fail\/(\d+)\/emails$/.exec(url.pathname);
      let status: number;
      if (req.method === "POST" && url.pathname === "/reject/emails") status = 422;
      else if (req.method === "POST" && fail) status = requests.filter((r) => r.key === key).length < Number(fail[1]) ? 500 : 200;
      else status = 404;
      requests.push({ key, authorization: (req.headers.authorization as string | undefined) ?? null, status, to: body.to });
      res.writeHead(status, { "content-type": "application/json" });
      res.end(
        JSON.stringify(
          status === 200
            ? {
                id: `re_${Buffer.from(key ?? "")
                  .toString("hex")
                  .slice(0, 40)}`,
              }
            : { name: status === 422 ? "validation_error" : "internal_server_error", message: "stand-in" },
        ),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  project.provide("emailServerBase", `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  return () => new Promise<void>((resolve) => server.close(() => resolve()));
}
