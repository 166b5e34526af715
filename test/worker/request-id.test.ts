import { createExecutionContext, env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createApp } from "../../worker/src/app";
import { call, makeKey } from "./helpers";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

// A line break cannot be sent at all (workerd's Headers, like any HTTP/1.1 parser, refuse it),
// so a tab and markup stand for a header that is not an id.
const SENT = [
  ["a well-formed id", "caller-chosen-id_42"],
  ["a 200-character id", "a".repeat(200)],
  ["a tab and markup", "evil\tid<script>"],
] as const;

afterEach(() => {
  vi.restoreAllMocks();
});

describe("request ids", () => {
  for (const [what, sent] of SENT) {
    it(`answers and audits under its own id when the caller sends ${what} as x-request-id`, async () => {
      const admin = await makeKey("admin");
      const res = await call("POST", "/v1/keys", { key: admin.key, body: { name: "request-id", role: "analyst" }, headers: { "x-request-id": sent } });
      expect(res.status).toBe(201);
      const requestId = res.headers.get("x-request-id");
      expect(requestId).toMatch(UUID);
      const { api_key } = await res.json<{ api_key: { id: string } }>();
      const audited = await env.DB.prepare("select request_id from audit_log where action = 'api_key.created' and subject_id = ?").bind(api_key.id).first<{ request_id: string }>();
      expect(audited?.request_id).toBe(requestId);

      const problem = await call("POST", "/v1/keys", { key: admin.key, body: { name: "request-id", role: "superuser" }, headers: { "x-request-id": sent } });
      expect(problem.status).toBe(400);
      expect(problem.headers.get("x-request-id")).toMatch(UUID);
      expect((await problem.json<{ request_id: string }>()).request_id).toBe(problem.headers.get("x-request-id"));
    });
  }

  it("logs a caller's well-formed x-request-id as client_request_id beside its own on a 5xx, and drops any other", async () => {
    const service = await makeKey("service");
    // Without signing keys the token route answers 503 config-invalid, which is logged as an error.
    const { ENTITLEMENTS_SIGNING_KEYS: _keys, ...unsigned } = env;
    const lines: string[] = [];
    vi.spyOn(console, "error").mockImplementation((line: unknown) => void lines.push(String(line)));
    const logged = async (sent: string) => {
      const res = await createApp().request(
        "http://billing.test/v1/entitlements/token",
        {
          method: "POST",
          headers: { authorization: `Bearer ${service.key}`, "content-type": "application/json", "cf-connecting-ip": "192.0.2.91", "x-request-id": sent },
          body: JSON.stringify({ user_id: "request_id_user" }),
        },
        unsigned,
        createExecutionContext(),
      );
      expect(res.status).toBe(503);
      const requestId = res.headers.get("x-request-id");
      expect(requestId).toMatch(UUID);
      const line = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.request_id === requestId);
      expect(line).toMatchObject({ level: "error", code: "config_invalid" });
      return line!;
    };
    expect((await logged("caller-chosen.id:42")).client_request_id).toBe("caller-chosen.id:42");
    expect(await logged("a".repeat(129))).not.toHaveProperty("client_request_id");
    expect(await logged("evil\tid<script>")).not.toHaveProperty("client_request_id");
  });
});
