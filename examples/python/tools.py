#!/usr/bin/env python3
"""Call the billing worker's five agent tools over HTTP with `requests`.

Run `npm start` first (the worker on http://127.0.0.1:8787, seeded), then:

    python3 examples/python/tools.py

Keys: BILLING_SERVICE_KEY / BILLING_ADMIN_KEY, else the keys `npm start` saved in
.wrangler/local-service-key and .wrangler/local-admin-key. BILLING_URL overrides the address.
A tool answers 200 with its JSON result, or an RFC 9457 problem (application/problem+json)
whose `errors[]` names each failing field, e.g. `body.tier`.
"""
import json
import os
import re
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
BASE = os.environ.get("BILLING_URL", "http://127.0.0.1:8787").rstrip("/")


def key(env: str, file: str) -> str:
    saved = ROOT / ".wrangler" / file
    value = os.environ.get(env) or (saved.read_text().strip() if saved.exists() else "")
    if not value:
        sys.exit(f"No key: set {env} or run `npm start` (it writes .wrangler/{file}).")
    return value


SERVICE_KEY = key("BILLING_SERVICE_KEY", "local-service-key")
ADMIN_KEY = key("BILLING_ADMIN_KEY", "local-admin-key")


def to_json(payload: dict) -> str:
    """JSON with Decimal amounts written as the number typed: Decimal("49.00") -> 49.00.

    The worker reads money from the number's decimal text, so 49.00 is 4900 cents exactly and a
    float like 0.1 + 0.2 (0.30000000000000004) is refused instead of rounded.
    """
    text = json.dumps(payload, default=lambda d: f"__decimal__{d}__" if isinstance(d, Decimal) else str(d))
    return re.sub(r'"__decimal__(-?[0-9.]+)__"', r"\1", text)


def call_tool(name: str, payload: dict, api_key: str) -> dict:
    """POST one tool. One Idempotency-Key per call: if the answer is lost (a timeout, a dropped
    connection, a 5xx) the same request is sent again with the same key, and the worker answers
    as it did the first time instead of creating a second checkout or running a step twice."""
    headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())}
    for attempt in range(1, 4):
        try:
            res = requests.post(f"{BASE}/v1/tools/{name}", data=to_json(payload), headers=headers, timeout=30)
        except (requests.ConnectionError, requests.Timeout):
            if attempt == 3:
                raise
        else:
            # 409 idempotency-key-in-use: the first send is still running; its answer comes next time.
            retry = res.status_code >= 500 or (res.status_code == 409 and res.json().get("code") == "idempotency_key_in_use")
            if not retry or attempt == 3:
                break
        time.sleep(0.5 * attempt)
    if res.headers.get("Idempotent-Replayed") == "true":
        print(f"  {name}: the answer to the first send (Idempotent-Replayed)")
    body = res.json()
    if res.status_code != 200:
        fields = ", ".join(e["field"] for e in body.get("errors", []))
        print(f"  {name} -> {res.status_code} {body.get('code')}: {body.get('detail')}" + (f" [{fields}]" if fields else ""))
        return {}
    return body


def get(path: str, api_key: str) -> dict:
    res = requests.get(f"{BASE}{path}", headers={"Authorization": f"Bearer {api_key}"}, timeout=30)
    res.raise_for_status()
    return res.json()


def main() -> None:
    manifest = get("/v1/tools", SERVICE_KEY)
    print("Tools this service key may run:", ", ".join(t["name"] for t in manifest["tools"] if t["allowed"]))

    # 1. create_subscription: the seed's input; a Checkout URL with the trial, or the existing subscription.
    sub = call_tool("create_subscription", {"user_id": "user_123", "tier": "mobile", "billing_cycle": "monthly"}, SERVICE_KEY)
    if sub.get("outcome") == "checkout_created":
        print(f"create_subscription: send the user to {sub['checkout_url']} ({sub['trial_days']}-day trial, then {sub['price']['amount']} cents/month)")
    elif sub:
        print(f"create_subscription: {sub['message']}")

    # 2. enforce_tier_access: the stored state decides; current_tier is only compared with it.
    access = call_tool("enforce_tier_access", {"user_id": "user_123", "feature": "nationwide_job_search", "current_tier": "mobile"}, SERVICE_KEY)
    if access:
        print(f"enforce_tier_access: allowed={access['allowed']} ({access['reason']})")
        if access["tier_mismatch"]:
            print(f"  note: {access['mismatch']}")
        if access["upgrade_prompt"]:
            print(f"  prompt: {access['upgrade_prompt']}")

    # 3. generate_revenue_report: analytics need an admin or analyst key.
    report = call_tool("generate_revenue_report", {"period": "monthly"}, ADMIN_KEY)
    if report:
        print(f"generate_revenue_report: MRR {report['current']['mrr']} cents, {report['current']['customers']} paying customers, {len(report['rows'])} months")

    # 4. manage_dunning_process: the seed's shape on a customer with an open case, else on a demo
    #    customer (the answer then says there is no failed payment); cus_123 exists in no Stripe.
    cases = get("/v1/dunning?limit=1", ADMIN_KEY)["open"]
    risky = get("/v1/analytics/churn-risk", ADMIN_KEY)["customers"]
    customer = cases[0]["customer_id"] if cases else risky[0]["customer_id"] if risky else "cus_123"
    dunning = call_tool("manage_dunning_process", {"customer_id": customer, "failure_count": 2, "amount": Decimal("49.00")}, SERVICE_KEY)
    if dunning:
        print(f"manage_dunning_process: {dunning['summary']}")
        for step in dunning["next_actions"][:3]:
            print(f"  next: {step['action']} at {step['at']} ({step['detail']})")

    # 5. process_webhook (admin only): nothing in the body is trusted; Stripe is asked.
    if cases:
        event = {"type": "invoice.payment_failed", "data": {"object": {"id": cases[0]["invoice_id"], "object": "invoice"}}}
        result = call_tool("process_webhook", event, ADMIN_KEY)
        if result:
            print(f"process_webhook: {result['summary']}")

    # A mistake comes back as a problem naming the field.
    call_tool("create_subscription", {"user_id": "user_123", "tier": "gold", "billing_cycle": "monthly"}, SERVICE_KEY)


if __name__ == "__main__":
    main()
