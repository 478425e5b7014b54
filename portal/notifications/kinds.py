"""The kinds of event people are told about: what the notification says and whether email is on by default.

Texts are lazy and use named parameters, so each reader sees them in their own language.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from portal.notifications.params import render


@dataclass(frozen=True)
class Kind:
    name: str
    label: object  # shown on the preferences page
    text: object  # the notification, with %(name)s parameters
    email_by_default: bool
    # False for what a person must hear of by email whatever they chose (a change to their account's security):
    # such kinds are not on the preferences page.
    optional: bool = True


KINDS: dict[str, Kind] = {}


def register_kinds(*kinds: Kind) -> None:
    """An area declares the kinds it sends (its notices.py); the preferences page lists them in that order."""
    for kind in kinds:
        KINDS[kind.name] = kind


def render_text(kind: str, params: Mapping[str, object]) -> str:
    """The notification's sentence in the current language; unknown kinds (removed later) fall back to nothing.
    Parameters are typed (portal.notifications.params): strings are shown as they were typed, never parsed."""
    known = KINDS.get(kind)
    if known is None:
        return ""
    template = str(known.text)
    try:
        return template % {key: render(value) for key, value in params.items()}
    except (KeyError, ValueError, TypeError):
        return template


def optional_kinds() -> dict[str, Kind]:
    """The kinds a person chooses email for on the preferences page."""
    return {name: kind for name, kind in KINDS.items() if kind.optional}
