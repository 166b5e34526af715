import { describe, expect, it } from "vitest";
import { call } from "./helpers";

describe("health", () => {
  it("reports ok when D1 answers", async () => {
    const res = await call("GET", "/health");
    expect(res.status).toBe(200);
    const body = await res.json<{ status: string; d1: { ok: boolean } }>();
    expect(body.status).toBe("ok");
    expect(body.d1.ok).toBe(true);
    expect(res.headers.get("x-request-id")).toBeTruthy();
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  });
});
