/**
 * The static files as wrangler dev serves them: the harness reads wrangler.toml's [assets]
 * (directory, binding, run_worker_first), so the asset router decides as in production which
 * paths reach the worker.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startWorker, type WorkerHarness } from "../harness/worker.ts";

describe("static assets", () => {
  let worker: WorkerHarness;
  beforeAll(async () => {
    worker = await startWorker();
  });
  afterAll(async () => {
    await worker?.dispose();
  });

  for (const path of ["/dashboard/static/no-such-file.js", "/dashboard/static/vendor/no-such.css", "/docs/static/no-such-file.js"]) {
    test(`a missing file (${path}) is a problem+json 404 with the not-found type`, async () => {
      const res = await fetch(`${worker.url}${path}`);
      expect(res.status).toBe(404);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      const problem = (await res.json()) as { type: string; status: number; detail: string };
      expect(problem).toMatchObject({ type: "https://federaljobadvisor.com/problems/not-found", status: 404 });
      expect(problem.detail).toContain(path);
    });
  }

  test("an existing dashboard file is still served, with the security headers of worker/public/_headers", async () => {
    const res = await fetch(`${worker.url}/dashboard/static/dashboard.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/javascript/);
    expect(res.headers.get("content-security-policy")).toBe("default-src 'none'; frame-ancestors 'none'");
    expect(res.headers.get("cache-control")).toBe("public, max-age=300");
    expect(await res.text()).toContain("uPlot");
  });
});
