/**
 * Sits between the emulator's webhook deliveries and the worker and makes the worker look
 * unreliable: some deliveries get a 503 without reaching it, some reach it and still get a 500
 * back (the worker stored the event but "crashed" before answering). Stripe retries both.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface FaultProxy {
  url: string;
  target: string | null;
  stats: { forwarded: number; dropped: number; lostAnswers: number };
  close(): Promise<void>;
}

export async function startFaultProxy(opts: { dropRate: number; lostAnswerRate: number; seed: number }): Promise<FaultProxy> {
  let state = opts.seed >>> 0 || 1;
  const random = () => {
    // xorshift32: reproducible for a given seed.
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
  const proxy: FaultProxy = { url: "", target: null, stats: { forwarded: 0, dropped: 0, lostAnswers: 0 }, close: async () => undefined };
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const roll = random();
    if (!proxy.target || roll < opts.dropRate) {
      proxy.stats.dropped++;
      res.writeHead(503).end("injected outage");
      return;
    }
    let upstream: Response;
    let body: string;
    try {
      upstream = await fetch(proxy.target, {
        method: "POST",
        headers: { "content-type": req.headers["content-type"] ?? "application/json", "stripe-signature": String(req.headers["stripe-signature"] ?? "") },
        body: Buffer.concat(chunks),
      });
      body = await upstream.text();
    } catch {
      res.writeHead(502).end("worker unreachable");
      return;
    }
    proxy.stats.forwarded++;
    if (roll < opts.dropRate + opts.lostAnswerRate) {
      proxy.stats.lostAnswers++;
      res.writeHead(500).end("injected crash after storing");
      return;
    }
    res.writeHead(upstream.status, { "content-type": upstream.headers.get("content-type") ?? "application/json" }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/stripe`;
  proxy.close = () => new Promise((resolve) => server.close(() => resolve()));
  return proxy;
}
