/**
 * examples/python/webhook_receiver.py, the spec checked by hand in Python's standard library,
 * against deliveries signed by the JavaScript reference implementation (`standardwebhooks`).
 * Skipped, saying so, where no python3 is installed.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { Webhook } from "standardwebhooks";
import { afterAll, describe, expect, it } from "vitest";

const RECEIVER = path.resolve(import.meta.dirname, "../../examples/python/webhook_receiver.py");
const python = (() => {
  try {
    execFileSync("python3", ["--version"], { stdio: "ignore" });
    return "python3";
  } catch {
    console.warn("skipped: no python3 on this machine");
    return null;
  }
})();

const newSecret = () => `whsec_${Buffer.from(crypto.getRandomValues(new Uint8Array(24))).toString("base64")}`;
const body = JSON.stringify({
  type: "entitlement.changed",
  timestamp: "2026-12-07T09:29:58Z",
  data: { user_id: "demo_007", before: { tier: "local", status: "active" }, after: { tier: "mobile", status: "active" } },
});

function sign(text: string, secrets: string[], at = new Date(), id = `msg_${crypto.randomUUID()}`): Record<string, string> {
  return {
    "content-type": "application/json",
    "webhook-id": id,
    "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
    "webhook-signature": secrets.map((s) => new Webhook(s).sign(id, at, text)).join(" "),
  };
}

describe.skipIf(python === null)("the Python webhook receiver", () => {
  let child: ChildProcess | undefined;
  afterAll(() => {
    child?.kill();
  });

  it("verifies by hand exactly what the reference implementation signs", () => {
    const secret = newSecret();
    const old = newSecret();
    const cases = [
      { name: "valid", body, headers: sign(body, [secret]), expect: "entitlement.changed" },
      { name: "rotation: two signatures", body, headers: sign(body, [old, secret]), expect: "entitlement.changed" },
      { name: "tampered body", body: body.replace("demo_007", "demo_008"), headers: sign(body, [secret]), expect: "ERR_WEBHOOK_SIGNATURE" },
      { name: "another secret", body, headers: sign(body, [newSecret()]), expect: "ERR_WEBHOOK_SIGNATURE" },
      { name: "six minutes old", body, headers: sign(body, [secret], new Date(Date.now() - 360_000)), expect: "ERR_WEBHOOK_TIMESTAMP" },
      { name: "no signature header", body, headers: { ...sign(body, [secret]), "webhook-signature": "" }, expect: "ERR_WEBHOOK_MALFORMED" },
    ];
    const script = `
import json, sys
sys.path.insert(0, ${JSON.stringify(path.dirname(RECEIVER))})
from webhook_receiver import verify, WebhookError
out = []
for c in json.load(sys.stdin)["cases"]:
    try:
        out.append(verify(c["body"].encode(), c["headers"], [${JSON.stringify(secret)}])["type"])
    except WebhookError as e:
        out.append(e.code)
print(json.dumps(out))`;
    const answer = execFileSync(python!, ["-c", script], { input: JSON.stringify({ cases }), encoding: "utf8" });
    expect(JSON.parse(answer)).toEqual(cases.map((c) => c.expect));
  });

  it("answers 204 to a signed delivery over HTTP and prints its event, marking a retry, and 400 to a forged one", async () => {
    const secret = newSecret();
    const proc = spawn(python!, [RECEIVER, "--port", "0"], { env: { ...process.env, WEBHOOK_SECRET: secret }, stdio: ["ignore", "pipe", "pipe"] });
    child = proc;
    let out = "";
    proc.stdout!.on("data", (chunk: Buffer) => (out += chunk.toString()));
    proc.stderr!.on("data", (chunk: Buffer) => (out += chunk.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the receiver did not start: ${out}`)), 15_000);
      proc.stdout!.on("data", () => {
        const m = /Listening on (\S+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
    });
    const headers = sign(body, [secret]);
    expect((await fetch(url, { method: "POST", headers, body })).status).toBe(204);
    expect((await fetch(url, { method: "POST", headers, body })).status).toBe(204); // a retry of the same event
    const forged = await fetch(url, { method: "POST", headers: sign(body, [newSecret()]), body });
    expect(forged.status).toBe(400);
    expect(await forged.json()).toMatchObject({ code: "ERR_WEBHOOK_SIGNATURE" });
    await new Promise((r) => setTimeout(r, 200));
    const lines = out.trim().split("\n");
    expect(lines.filter((l) => l.startsWith("entitlement.changed demo_007: local/active -> mobile/active"))).toHaveLength(2);
    expect(lines.filter((l) => l.includes(", again]"))).toHaveLength(1);
    expect(lines.some((l) => l.startsWith("refused (ERR_WEBHOOK_SIGNATURE)"))).toBe(true);
  });
});
