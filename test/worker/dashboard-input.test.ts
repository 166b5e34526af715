/**
 * The sign-in form's bad input: whatever is posted, the answer is a 4xx (problem+json or the
 * refused form), never a 5xx, and no session row is written.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createApp } from "../../worker/src/app";
import { BASE, count, freshIp } from "./helpers";

const post = (body: BodyInit | undefined, headers: Record<string, string>) =>
  createApp().request(`${BASE}/dashboard/login`, { method: "POST", headers: { "cf-connecting-ip": freshIp(), origin: BASE, ...headers }, ...(body === undefined ? {} : { body }) }, env);

describe("dashboard sign-in input", () => {
  it("answers every malformed post with a 4xx and opens no session", async () => {
    const before = await count("dashboard_sessions");
    const cases: [string, BodyInit | undefined, Record<string, string>][] = [
      ["no body", undefined, { "content-type": "application/x-www-form-urlencoded" }],
      ["JSON", JSON.stringify({ key: "fja_x" }), { "content-type": "application/json" }],
      ["no content type", "key=fja_x", {}],
      ["a key over the limit", `key=${"a".repeat(1500)}`, { "content-type": "application/x-www-form-urlencoded" }],
      ["a body over 4 KiB", `key=fja_x&pad=${"a".repeat(5000)}`, { "content-type": "application/x-www-form-urlencoded" }],
      ["a repeated key", "key=fja_a&key=fja_b", { "content-type": "application/x-www-form-urlencoded" }],
      [
        "multipart",
        (() => {
          const f = new FormData();
          f.set("key", "fja_x");
          return f;
        })(),
        {},
      ],
      ["broken percent-encoding", "key=%E0%A4%A", { "content-type": "application/x-www-form-urlencoded" }],
    ];
    for (const [what, body, headers] of cases) {
      const res = await post(body, headers);
      expect(res.status, what).toBeGreaterThanOrEqual(400);
      expect(res.status, what).toBeLessThan(500);
      const type = res.headers.get("content-type") ?? "";
      expect(type, what).toMatch(/^(application\/problem\+json|text\/html)/);
    }
    expect(await count("dashboard_sessions")).toBe(before);
  });
});
