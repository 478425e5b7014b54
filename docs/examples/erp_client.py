"""A short client of the portal's API, as an ERP's nightly job would use it: push the day's invoices and credit
notes, pull the approved claims to pay, confirm them paid, and read the events since last time. Standard library
only; run it with PORTAL_URL and PORTAL_TOKEN set:

    PORTAL_URL=http://localhost:5000 PORTAL_TOKEN=dpp_... python docs/examples/erp_client.py

The transport is one function (`send`), so the portal's own tests run this file against the application."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any

Send = Callable[[str, str, dict[str, Any] | None, dict[str, str]], tuple[int, dict[str, Any]]]


def http_send(method: str, url: str, body: dict[str, Any] | None, headers: dict[str, str]) -> tuple[int, Any]:
    data = json.dumps(body).encode("utf-8") if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310 - the portal's URL
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as problem:
        return problem.code, json.loads(problem.read() or b"{}")


class Portal:
    def __init__(self, base_url: str, token: str, send: Send = http_send) -> None:
        self.base_url, self.send = base_url.rstrip("/") + "/api/v1", send
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def get(self, path: str) -> dict[str, Any]:
        status, body = self.send("GET", self.base_url + path, None, self.headers)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status} {body.get('detail', body)}")
        return body

    def post(self, path: str, body: dict[str, Any], key: str) -> tuple[int, dict[str, Any]]:
        """A push with its Idempotency-Key: after a timeout, send again with the same key, never a new one."""
        return self.send("POST", self.base_url + path, body, {**self.headers, "Idempotency-Key": key})

    def pages(self, path: str) -> Iterator[dict[str, Any]]:
        """Every item of a list, following next_cursor."""
        joiner = "&" if "?" in path else "?"
        cursor = ""
        while True:
            page = self.get(f"{path}{joiner}cursor={cursor}")
            yield from page["items"]
            if page["next_cursor"] is None:
                return
            cursor = page["next_cursor"]


def push_sales(portal: Portal, lines: list[dict[str, str]], batch_name: str) -> dict[str, Any]:
    """Up to 10,000 lines a call; `batch_name` (such as the ERP's export number) makes the key, so a re-run of the
    same export is answered, not imported twice."""
    status, result = portal.post("/sales-batches", {"lines": lines}, key=f"sales-{batch_name}")
    if status == 409:  # invoices sent again with other values: the ERP corrected them, so replace
        status, result = portal.post(
            "/sales-batches", {"lines": lines, "conflicts": "replace"}, key=f"sales-{batch_name}-replace"
        )
    if status not in (200, 201):
        errors = "; ".join(f"line {e['index']}: {e['field']} {e['message']}" for e in result.get("errors", []))
        raise RuntimeError(f"sales batch {batch_name} refused ({status}): {errors}")
    return result


def pay_approved_claims(portal: Portal, transfer_reference: str) -> int:
    """Pay what is approved (here: all of it, in one transfer) and tell the portal."""
    to_pay = list(portal.pages("/claims?state=to_pay&limit=500"))
    if not to_pay:
        return 0
    status, result = portal.post(
        "/payments",
        {"reference": transfer_reference, "claim_ids": [claim["id"] for claim in to_pay]},
        key=f"payment-{transfer_reference}",
    )
    if status != 201:
        raise RuntimeError(f"payment refused ({status}): {result.get('detail')}")
    return int(result["claims_paid"])


def events_since(portal: Portal, after: int) -> tuple[list[dict[str, Any]], int]:
    """The events after the last one seen; keep the returned number for next time."""
    page = portal.get(f"/events?after={after}&limit=500")
    return page["items"], page["next_after"]


if __name__ == "__main__":
    portal = Portal(os.environ["PORTAL_URL"], os.environ["PORTAL_TOKEN"])
    print(portal.get("/me"))
    print("paid claims:", pay_approved_claims(portal, f"TRF-{uuid.uuid4().hex[:8]}"))
