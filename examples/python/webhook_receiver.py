#!/usr/bin/env python3
"""Receive the billing worker's outbound webhooks in Python and print each event.

Standard library only: the signature is checked by hand from the Standard Webhooks spec
(https://www.standardwebhooks.com), as any receiver without an SDK would.

    WEBHOOK_SECRET=whsec_... python3 examples/python/webhook_receiver.py --port 4000

or, against `npm start`'s worker, let it register its own endpoint (every event type) with the
admin key (BILLING_ADMIN_KEY, else .wrangler/local-admin-key) and use the secret it is given:

    python3 examples/python/webhook_receiver.py --port 4000 --register

A delivery is a POST with `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature`
(`v1,<base64 HMAC-SHA256>`, several space-separated while a secret is being rotated). The HMAC key
is the base64-decoded text after `whsec_`; the signed content is `<id>.<timestamp>.<raw body>`.
The receiver answers 204 to a delivery that verifies, 400 to one that does not (the worker then
retries it), and prints the same event only once (the worker may deliver it again: at least once).
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

TOLERANCE_SECONDS = 5 * 60
ROOT = Path(__file__).resolve().parents[2]


class WebhookError(Exception):
    """A delivery that does not verify; `code` says why (the SDK's codes)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def secret_key(secret: str) -> bytes:
    if not secret.startswith("whsec_"):
        raise ValueError("the secret must be the endpoint's whsec_<base64> secret")
    return base64.b64decode(secret[len("whsec_"):], validate=True)


def verify(body: bytes, headers, secrets, tolerance: int = TOLERANCE_SECONDS, now=None) -> dict:
    """Checks one delivery and answers its event `{type, timestamp, data}` plus `id`.

    `headers` is any mapping with case-insensitive `get` (http.server's) or a dict of lowercase
    names; `secrets` a list of `whsec_` secrets (one, or two while moving to a rotated one).
    """
    msg_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not msg_id or not timestamp or not signatures:
        raise WebhookError("ERR_WEBHOOK_MALFORMED", "a webhook-id, webhook-timestamp or webhook-signature header is missing")
    if not timestamp.isdigit():
        raise WebhookError("ERR_WEBHOOK_MALFORMED", "webhook-timestamp is not Unix seconds")

    signed = f"{msg_id}.{timestamp}.".encode() + body
    expected = [base64.b64encode(hmac.new(secret_key(s), signed, hashlib.sha256).digest()) for s in secrets]
    found = False
    for entry in signatures.split(" "):
        version, _, mac = entry.partition(",")
        if version != "v1":
            continue  # another scheme of the spec (v1a: asymmetric); this worker signs v1
        for candidate in expected:
            if hmac.compare_digest(mac.encode(), candidate):  # constant time
                found = True
    if not found:
        raise WebhookError("ERR_WEBHOOK_SIGNATURE", "no webhook-signature matches this body and secret")

    now = int(time.time()) if now is None else now
    if abs(now - int(timestamp)) > tolerance:
        raise WebhookError("ERR_WEBHOOK_TIMESTAMP", f"webhook-timestamp is {now - int(timestamp)} s from now")

    try:
        event = json.loads(body)
    except ValueError:
        raise WebhookError("ERR_WEBHOOK_MALFORMED", "the body is not JSON") from None
    if not isinstance(event, dict) or not isinstance(event.get("type"), str) or not isinstance(event.get("data"), dict):
        raise WebhookError("ERR_WEBHOOK_MALFORMED", "the body is not an event {type, timestamp, data}")
    return {**event, "id": msg_id}


def describe(event: dict) -> str:
    """One line per event, e.g. `entitlement.changed demo_001: local/trialing -> mobile/active`."""
    data = event["data"]
    user = data.get("user_id", "?")
    kind = event["type"]
    if kind == "entitlement.changed":
        before = data.get("before") or {}
        after = data.get("after") or {}
        return f"{kind} {user}: {before.get('tier')}/{before.get('status', 'none')} -> {after.get('tier')}/{after.get('status')}"
    if kind.startswith("subscription."):
        sub = data.get("subscription") or {}
        return f"{kind} {user}: {sub.get('tier')} {sub.get('billing_cycle')} {sub.get('status')}"
    if kind.startswith("invoice."):
        inv = data.get("invoice") or {}
        return f"{kind} {user}: {inv.get('id')} {inv.get('amount_due')} {inv.get('currency')} cents {inv.get('status')}"
    if kind == "dunning.stage_reached":
        return f"{kind} {user}: {data.get('stage')} on day {data.get('day')} of {data.get('invoice_id')}"
    return f"{kind} {user}: {json.dumps(data, separators=(',', ':'))[:200]}"


def make_handler(secrets, seen: set):
    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            try:
                event = verify(body, self.headers, secrets)
            except WebhookError as e:
                print(f"refused ({e.code}): {e}", flush=True)
                answer = json.dumps({"title": "Webhook refused", "status": 400, "code": e.code, "detail": str(e)}).encode()
                self.send_response(400)
                self.send_header("content-type", "application/problem+json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
                return
            repeat = event["id"] in seen
            seen.add(event["id"])
            print(f"{describe(event)}  [{event['id']}{', again' if repeat else ''}]", flush=True)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):  # the event lines are the log
            pass

    return Receiver


def api(base: str, admin_key: str, method: str, path: str, payload=None):
    req = urllib.request.Request(f"{base}{path}", method=method, data=None if payload is None else json.dumps(payload).encode())
    req.add_header("authorization", f"Bearer {admin_key}")
    req.add_header("accept", "application/json")
    if payload is not None:
        req.add_header("content-type", "application/json")
    with urllib.request.urlopen(req, timeout=10) as res:
        text = res.read()
    return json.loads(text) if text else None


def register(base: str, admin_key: str, url: str) -> str:
    """This receiver's endpoint for every event type: the one with this URL if it exists (its
    secret rotated, since the worker shows a secret only when it makes or rotates one), else a new one."""
    listed = api(base, admin_key, "GET", "/v1/webhook-endpoints")
    endpoints = listed if isinstance(listed, list) else listed.get("data", [])
    existing = next((e for e in endpoints if e.get("url") == url), None)
    if existing is None:
        made = api(base, admin_key, "POST", "/v1/webhook-endpoints", {"url": url, "events": ["*"], "description": "examples/python/webhook_receiver.py"})
        print(f"Registered {url} as {made['id']} for every event.", flush=True)
        return made["secret"]
    if not existing.get("enabled", True):
        api(base, admin_key, "PATCH", f"/v1/webhook-endpoints/{existing['id']}", {"enabled": True})
    rotated = api(base, admin_key, "POST", f"/v1/webhook-endpoints/{existing['id']}/rotate-secret")
    print(f"Reusing {existing['id']} for {url} (secret rotated; the old one stays valid for 24 h).", flush=True)
    return rotated["secret"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=4000, help="port on 127.0.0.1 (0: a free one)")
    parser.add_argument("--register", action="store_true", help="register this receiver with the worker (admin key)")
    args = parser.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", args.port), BaseHTTPRequestHandler)
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    secrets = [s for s in os.environ.get("WEBHOOK_SECRET", "").split(",") if s]
    if args.register:
        saved = ROOT / ".wrangler" / "local-admin-key"
        admin_key = os.environ.get("BILLING_ADMIN_KEY") or (saved.read_text().strip() if saved.exists() else "")
        if not admin_key:
            sys.exit("No admin key: set BILLING_ADMIN_KEY or run `npm start` (it writes .wrangler/local-admin-key).")
        base = os.environ.get("BILLING_URL", "http://127.0.0.1:8787").rstrip("/")
        try:
            secrets = [register(base, admin_key, url)]
        except urllib.error.HTTPError as e:
            sys.exit(f"Registering failed: {e.code} {e.read().decode(errors='replace')[:300]}")
    if not secrets:
        sys.exit("No secret: set WEBHOOK_SECRET=whsec_... (the endpoint's secret) or pass --register.")
    for s in secrets:
        secret_key(s)  # a wrong secret stops the start, not every delivery
    server.RequestHandlerClass = make_handler(secrets, set())
    print(f"Listening on {url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
