import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  interface ProvidedContext {
    /** A stand-in alert webhook endpoint (monitoring tests); see below. */
    alertReceiverBase: string;
  }
}

/**
 * An alert webhook endpoint on loopback, as an operator's receiver would be (and an outbound
 * webhook receiver, for test/worker/outbound-webhooks.test.ts): `POST /ok/<inbox>`
 * answers 200; `POST /fail/<n>/<inbox>` answers 500 to the first n requests of each X-Alert-Id,
 * then 200. Every request is kept with its exact body and headers; `GET /_requests/<inbox>`
 * lists those of one inbox (tests use a fresh inbox each).
 */
export default async function setup(project: TestProject) {
  const requests: { inbox: string; status: number; body: string; signature: string | null; alertId: string | null; contentType: string | null; headers: Record<string, string> }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://localhost");
      const list = /^\/_requests\/([\w-]+)$/.exec(url.pathname);
      if (req.method === "GET" && list) {
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(requests.filter((r) => r.inbox === list[1])));
        return;
      }
      const ok = /^\/ok\/([\w-]+)$/.exec(url.pathname);
      const fail = /^\/fail\/(\d+)\/([\w-]+)$/.exec(url.pathname);
      const inbox = ok?.[1] ?? fail?.[2] ?? "unknown";
      const alertId = (req.headers["x-alert-id"] as string | undefined) ?? null;
      let status = 404;
      if (req.method === "POST" && ok) status = 200;
      else if (req.method === "POST" && fail) status = requests.filter((r) => r.inbox === inbox && r.alertId === alertId).length < Number(fail[1]) ? 500 : 200;
      requests.push({
        inbox,
        status,
        body: Buffer.concat(chunks).toString("utf8"),
        signature: (req.headers["x-alert-signature"] as string | undefined) ?? null,
        alertId,
        contentType: req.headers["content-type"] ?? null,
        // Every header as sent (the outbound webhooks' tests verify webhook-id, -timestamp and -signature).
        headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : (v ?? "")])),
      });
      res.writeHead(status, { "content-type": "text/plain" }).end(status === 200 ? "ok" : "stand-in failure");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  project.provide("alertReceiverBase", `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  return () => new Promise<void>((resolve) => server.close(() => resolve()));
}
