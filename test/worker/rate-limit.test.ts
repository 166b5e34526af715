import { describe, expect, it } from "vitest";
import { call, makeKey } from "./helpers";

describe("rate limits", () => {
  it("limits one client IP and answers 429 problem+json with Retry-After", async () => {
    const ip = "203.0.113.77";
    let limited: Response | undefined;
    // wrangler.toml allows 300 requests a minute per IP. The binding counts in fixed minute
    // windows, so a run that crosses a window's end may need up to 600 before the 301st of one
    // window: 650 always reaches it.
    for (let i = 0; i < 650 && !limited; i++) {
      const res = await call("GET", "/v1/catalog", { ip });
      if (res.status === 429) limited = res;
      else expect(res.status).toBe(200);
    }
    expect(limited, "no 429 within 650 requests").toBeDefined();
    expect(limited!.headers.get("retry-after")).toBe("60");
    expect(limited!.headers.get("content-type")).toBe("application/problem+json");
    expect((await limited!.json<{ type: string }>()).type).toMatch(/rate-limited$/);
    // Another address is unaffected.
    expect((await call("GET", "/v1/catalog", { ip: "203.0.113.78" })).status).toBe(200);
  });

  it("limits one API key across addresses", async () => {
    const { key } = await makeKey("analyst");
    let limited: Response | undefined;
    // 600 a minute per key; each request comes from a fresh IP so only the key limit applies.
    // Fixed minute windows: a run that crosses a window's end may need up to 1,200 requests.
    for (let i = 0; i < 1300 && !limited; i++) {
      const res = await call("GET", "/v1/audit?limit=1", { key });
      if (res.status === 429) limited = res;
    }
    expect(limited, "no 429 within 1300 requests").toBeDefined();
    expect(limited!.headers.get("retry-after")).toBe("60");
  }, 90_000);
});
