"""What an integration client may do: its scopes, and how a token is recognised. Pure, no database."""

from __future__ import annotations

import enum
import hashlib
import ipaddress
import secrets
from collections.abc import Iterable

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
