"""Integration clients: an admin creates one with its scopes (and, optionally, the address ranges it may call
from), sees its token once, rotates it with an overlap so the ERP can switch without downtime, and revokes it.
A request's token is checked here: the client, its scopes, and where it was last used."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from portal.access import AccessRole, require_role
from portal.accounts.models import User, UserRole
from portal.api.models import ApiToken, IntegrationClient
from portal.api.rules import SHOWN_CHARACTERS, Scope, address_allowed, new_token, token_hash, valid_scopes
from portal.api.rules import parse_networks as parse_ranges
from portal.audit.services import audit_change
from portal.database import begin_write
from portal.extensions import db
from portal.request_locale import gettext as _
from portal.service_errors import IllegalTransition, InvalidInput
from portal.types import utcnow

NAME_LENGTH = 120
ROTATION_OVERLAP = timedelta(hours=24)  # the old token keeps working this long after a rotation
LAST_USED_EVERY = timedelta(minutes=1)  # the last-use stamp is written at most this often, not on every call


@dataclass(frozen=True)
class Caller:
    """Who is calling the API: the client and what it may do."""

    client_id: int
    name: str
    scopes: frozenset[Scope]
    user_id: int  # the client's own (service) user, who the audit trail names


def service_user_for(name: str) -> User:
    """The user a client acts as: an administrator that can never sign in (inactive, no password hash any password
    could match), left out of the people lists; its name is the client's, so the audit trail reads "World ERP (API)
    paid 12 claims"."""
    user = User(
        email=f"api-client-{secrets.token_hex(8)}@integrations.invalid",
        name=f"{name} (API)"[:200],
        password_hash="!",  # noqa: S106 - no password hash: nothing a password hashes to equals this
        role=UserRole.ADMIN,
        active=False,
        is_service=True,
    )
    db.session.add(user)
    return user


def _issue(client: IntegrationClient) -> str:
    token = new_token()
    db.session.add(ApiToken(client_id=client.id, token_hash=token_hash(token), shown_start=token[:SHOWN_CHARACTERS]))
    return token


def create_client(actor: User, name: str, scopes: list[str], networks: list[str]) -> tuple[IntegrationClient, str]:
    """A new client and its first token, returned in clear only here: it is stored as its hash."""
    require_role(actor, AccessRole.ADMIN)
    name = name.strip()
    if not name or len(name) > NAME_LENGTH:
        raise InvalidInput("name", _("Give the client a name, such as the ERP's, of at most 120 characters."))
    if db.session.execute(select(IntegrationClient.id).where(IntegrationClient.name == name)).first():
        raise InvalidInput("name", _("Another client has this name."))
    try:
        chosen = valid_scopes(scopes)
    except ValueError as unknown:
        raise InvalidInput("scopes", _("Unknown scopes: %(names)s", names=str(unknown))) from None
    if not chosen:
        raise InvalidInput("scopes", _("Choose at least one scope."))
    try:
        ranges = parse_ranges(networks)
    except ValueError:
        raise InvalidInput("networks", _("Write address ranges as 203.0.113.0/24 or single addresses.")) from None
    user = service_user_for(name)
    db.session.flush()
    client = IntegrationClient(
        name=name,
        scopes=[scope.value for scope in chosen],
        allowed_networks=ranges,
        created_by_id=actor.id,
        user_id=user.id,
    )
    db.session.add(client)
    db.session.flush()
    token = _issue(client)
    audit_change("integration_client.created", actor=actor, subject=client, after={"scopes": client.scopes})
    db.session.flush()
    return client, token


def rotate_token(actor: User, client: IntegrationClient, now: datetime | None = None) -> str:
    """A new token; the tokens in use now stop working after the overlap, time for the ERP to switch."""
    require_role(actor, AccessRole.ADMIN)
    if client.revoked_at is not None:
        raise IllegalTransition(_("This client is revoked."))
    now = now or utcnow()
    ends = now + ROTATION_OVERLAP
    for token in client.tokens:
        if token.expires_at is None or token.expires_at > ends:
            token.expires_at = ends
    new = _issue(client)
    audit_change("integration_client.rotated", actor=actor, subject=client, old_tokens_until=ends.isoformat())
    db.session.flush()
    return new


def revoke_client(actor: User, client: IntegrationClient, now: datetime | None = None) -> None:
    """At once: every token of the client stops working."""
    require_role(actor, AccessRole.ADMIN)
    if client.revoked_at is not None:
        raise IllegalTransition(_("This client is revoked already."))
    client.revoked_at = now or utcnow()
    audit_change("integration_client.revoked", actor=actor, subject=client)
    db.session.flush()


def _stamp_last_use(client_id: int, now: datetime, address: str) -> None:
    """Under the write lock from the start (SQLite: a read upgraded to a write half-way fails at once when another
    request writes), and only when still due: copies of a request arriving together stamp once."""
    begin_write()
    db.session.execute(
        update(IntegrationClient)
        .where(
            IntegrationClient.id == client_id,
            or_(
                IntegrationClient.last_used_at.is_(None),
                IntegrationClient.last_used_at <= now - LAST_USED_EVERY,
                IntegrationClient.last_used_from != address,
            ),
        )
        .values(last_used_at=now, last_used_from=address)
    )


def authenticate(token: str, address: str | None, now: datetime | None = None) -> Caller | None:
    """The caller a token names, or None: unknown, expired, revoked, or called from outside the client's ranges.
    One indexed query; the last-use stamp is written at most once a minute."""
    now = now or utcnow()
    found = db.session.execute(
        select(ApiToken, IntegrationClient)
        .join(IntegrationClient, IntegrationClient.id == ApiToken.client_id)
        .where(
            ApiToken.token_hash == token_hash(token),
            or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now),
            IntegrationClient.revoked_at.is_(None),
        )
    ).first()
    if found is None:
        return None
    _token, client = found
    if not address_allowed(address, client.allowed_networks):
        return None
    stamped = client.last_used_at
    if stamped is None or now - stamped >= LAST_USED_EVERY or client.last_used_from != (address or ""):
        _stamp_last_use(client.id, now, (address or "")[:45])
    return Caller(client.id, client.name, frozenset(valid_scopes(client.scopes)), client.user_id)
