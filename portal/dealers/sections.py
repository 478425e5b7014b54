"""Parts of the dealer's pages that other areas fill: the dealer's home (rebate progress, promotion budget) and
the dealer's page in the console (statements, violations, disputes).

Those areas stand on dealers, so dealers cannot ask them; each registers a section, a function of the viewer and
the dealer returning the template values it owns, and the page merges what the registered sections give. A page
whose area is not plugged in simply lacks that part.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from portal.accounts.models import User
    from portal.dealers.models import Dealer

Section = Callable[["User", "Dealer"], Mapping[str, object]]

_HOME: list[Section] = []
_CONSOLE_PAGE: list[Section] = []


def register_home_section(section: Section) -> None:
    """A part of the dealer's own home page (/dealer/)."""
    if section not in _HOME:
        _HOME.append(section)


def register_console_section(section: Section) -> None:
    """A part of a dealer's page in the console (/console/dealers/<code>)."""
    if section not in _CONSOLE_PAGE:
        _CONSOLE_PAGE.append(section)


def home_sections(viewer: User, dealer: Dealer) -> dict[str, object]:
    return _merged(_HOME, viewer, dealer)


def console_sections(viewer: User, dealer: Dealer) -> dict[str, object]:
    return _merged(_CONSOLE_PAGE, viewer, dealer)


def _merged(sections: list[Section], viewer: User, dealer: Dealer) -> dict[str, object]:
    values: dict[str, object] = {}
    for section in sections:
        values.update(section(viewer, dealer))
    return values
