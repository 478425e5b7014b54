"""Who something is addressed to: every dealer, some tiers, some territories or named dealers. A campaign (and
later an announcement) keeps its audience as a kind and a list of codes (tier values, territory codes, dealer
codes: stable and readable in an audit row), and asks here which dealers that is, as one SQL condition.

Terminated dealers are in no audience: nothing new is addressed to a dealer that has left the channel.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence

from sqlalchemy import ColumnElement, select, true

from portal.dealers.models import Dealer, DealerStatus, DealerTier, Territory
from portal.extensions import db
from portal.forms_common import split_list
from portal.request_locale import lazy_gettext as _l
from portal.types import register_labels

TIER_VALUES = frozenset(tier.value for tier in DealerTier)


class AudienceKind(enum.StrEnum):
    ALL = "all"
    TIERS = "tiers"
    TERRITORIES = "territories"
    DEALERS = "dealers"


register_labels(
    {
        AudienceKind.ALL: _l("Every dealer"),
        AudienceKind.TIERS: _l("Dealers of these tiers"),
        AudienceKind.TERRITORIES: _l("Dealers of these territories"),
        AudienceKind.DEALERS: _l("These dealers"),
    }
)


def members_condition(kind: AudienceKind, codes: Sequence[str]) -> ColumnElement[bool]:
    """The SQL condition on `Dealer` that holds for the audience's dealers."""
    in_channel = Dealer.status != DealerStatus.TERMINATED
    if kind is AudienceKind.ALL:
        return in_channel & true()
    if kind is AudienceKind.TIERS:
        return in_channel & Dealer.tier.in_([DealerTier(code) for code in codes if code in TIER_VALUES])
    if kind is AudienceKind.TERRITORIES:
        return in_channel & Dealer.territory_id.in_(select(Territory.id).where(Territory.code.in_(list(codes))))
    return in_channel & Dealer.code.in_(list(codes))


def includes(kind: AudienceKind, codes: Sequence[str], dealer: Dealer) -> bool:
    """`members_condition` for one dealer already loaded (a dealer's own pages ask it of a few campaigns or notes);
    the two are tested to agree on every kind."""
    if dealer.status is DealerStatus.TERMINATED:
        return False
    if kind is AudienceKind.ALL:
        return True
    if kind is AudienceKind.TIERS:
        return dealer.tier.value in codes
    if kind is AudienceKind.TERRITORIES:
        return dealer.territory.code in codes
    return dealer.code in codes


def unknown_codes(kind: AudienceKind, codes: Iterable[str]) -> list[str]:
    """The codes the audience names that name nothing (a typo in a dealer code, a territory since renamed)."""
    wanted = sorted(set(codes))
    if kind is AudienceKind.ALL or not wanted:
        return []
    if kind is AudienceKind.TIERS:
        return [code for code in wanted if code not in TIER_VALUES]
    column = Territory.code if kind is AudienceKind.TERRITORIES else Dealer.code
    found = set(db.session.execute(select(column).where(column.in_(wanted))).scalars())
    return [code for code in wanted if code not in found]


def parse_codes(text: str) -> list[str]:
    """Codes as people paste them: separated as any typed list (`split_list`) or by spaces; upper case."""
    return sorted({code.upper() for item in split_list(text) for code in item.split()})
