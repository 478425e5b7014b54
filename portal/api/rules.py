"""What an integration client may do: its scopes, and how a token is recognised. Pure, no database."""

from __future__ import annotations

import enum
import hashlib
import hmac
import ipaddress
import secrets
import urllib.parse
from collections.abc import Iterable

from portal.request_locale import lazy_gettext as _l
from portal.types import register_labels

TOKEN_PREFIX = "dpp_"  # noqa: S105 - a prefix, not a secret: a token is recognisable in a leaked log
TOKEN_BYTES = 32
SHOWN_CHARACTERS = 8  # the start of a token, kept to tell a client's tokens apart in lists


class Scope(enum.StrEnum):
    DEALERS_WRITE = "dealers:write"
    TARGETS_WRITE = "targets:write"
    SALES_WRITE = "sales:write"
    STATEMENTS_READ = "statements:read"
    CLAIMS_READ = "claims:read"
    PAYMENTS_WRITE = "payments:write"
    EVENTS_READ = "events:read"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """Tokens carry 256 random bits: a plain SHA-256 is enough to store them (no password stretching needed), and
    lets a request's token be found by an indexed lookup."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def valid_scopes(values: Iterable[str]) -> list[Scope]:
    """The scopes named, in the order of the enum; raises ValueError on an unknown one."""
    wanted = set(values)
    unknown = wanted - set(Scope._value2member_map_)
    if unknown:
        raise ValueError(", ".join(sorted(unknown)))
    return [scope for scope in Scope if scope.value in wanted]


def parse_networks(values: Iterable[str]) -> list[str]:
    """Allowed address ranges as written by an admin ("203.0.113.0/24", "2001:db8::/32", a single address);
    raises ValueError on anything else."""
    return [str(ipaddress.ip_network(value.strip(), strict=False)) for value in values if value.strip()]


def address_allowed(address: str | None, networks: Iterable[str]) -> bool:
    """No ranges: any address. Otherwise the request's address must fall in one of them."""
    ranges = list(networks)
    if not ranges:
        return True
    try:
        found = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(found in ipaddress.ip_network(network) for network in ranges)


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for its turn or its next attempt
    DELIVERED = "delivered"  # the receiver answered 2xx
    FAILED = "failed"  # given up after the last attempt; an admin may send it again


register_labels(
    {
        DeliveryStatus.PENDING: _l("Waiting"),
        DeliveryStatus.DELIVERED: _l("Delivered"),
        DeliveryStatus.FAILED: _l("Given up"),
    }
)

MAX_ATTEMPTS = 8
FIRST_WAIT_SECONDS = 30
LONGEST_WAIT_SECONDS = 6 * 3600


def retry_wait(attempts: int) -> int:
    """Seconds before the next attempt after `attempts` failed ones: 30 s, 1 min, 2, 4, 8... up to six hours. Eight
    attempts span about an hour; a receiver down for longer has its deliveries marked failed, to send again."""
    return min(FIRST_WAIT_SECONDS * 2 ** max(attempts - 1, 0), LONGEST_WAIT_SECONDS)


SIGNATURE_HEADER = "Portal-Signature"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The header a delivery carries: `t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret>`. The
    receiver recomputes it and refuses a timestamp older than a few minutes (a replayed delivery)."""
    signed = str(timestamp).encode("ascii") + b"." + body
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def signature_valid(secret: str, header: str, body: bytes, now: int, tolerance: int = 300) -> bool:
    """What a receiver does (the README's example does the same): parse, recompute, compare in constant time."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), f"t={timestamp},v1={parts.get('v1', '')}")


def webhook_url_problem(url: str) -> str | None:
    """Why a receiver URL cannot be used, or None: http(s) only, with a host, no credentials in it."""
    parsed = urllib.parse.urlsplit(url.strip())
    if parsed.scheme not in ("https", "http") or not parsed.hostname:
        return "scheme"
    if parsed.username or parsed.password:
        return "credentials"
    return None
