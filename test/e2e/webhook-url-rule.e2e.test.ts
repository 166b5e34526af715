/**
 * The outbound webhook URL rule end to end, in a worker run with ENVIRONMENT production (as
 * deployed): a loopback, private or metadata address written so that the URL parser rewrites it
 * (`[::ffff:127.0.0.1]` becomes `[::ffff:7f00:1]`), or `localhost.` with its trailing dot, is
 * refused when the endpoint is saved, while a public IPv6 address is taken.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWorker, type WorkerHarness } from "../harness/worker.ts";

let worker: WorkerHarness;

beforeAll(async () => {
  worker = await startWorker({ bindings: { ENVIRONMENT: "production" } });
}, 120_000);

afterAll(async () => {
  await worker?.dispose();
});

const save = (url: string) => worker.request("/v1/webhook-endpoints", { method: "POST", key: worker.adminKey, json: { url, events: ["*"] } });

describe("the webhook URL rule in production", () => {
  it.each([
    "https://[::ffff:127.0.0.1]/hook",
    "https://[::ffff:169.254.169.254]/latest/meta-data",
    "https://[::7f00:1]/hook",
    "https://[64:ff9b::10.0.0.1]/hook",
    "https://[::ffff:0:192.168.1.1]/hook",
    "https://localhost./hook",
  ])("refuses %s with a 400 naming body.url", async (url) => {
    const res = await save(url);
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    const problem = (await res.json()) as { errors: { field: string; message: string }[] };
    expect(problem.errors).toEqual([{ field: "body.url", message: "must not point at a loopback, private or link-local address" }]);
  });

  it("takes a public IPv6 address", async () => {
    const res = await save("https://[2606:4700:4700::1111]/hook");
    expect(res.status, await res.clone().text()).toBe(201);
    const { id } = (await res.json()) as { id: string };
    expect((await worker.request(`/v1/webhook-endpoints/${id}`, { method: "DELETE", key: worker.adminKey })).status).toBe(204);
  });
});
