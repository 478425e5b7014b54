"""Where a notification leads, stored as an endpoint and its arguments and built into a URL only when shown.

A stored path breaks the day a route moves; an endpoint with its arguments follows it. Arguments are plain values
(ids, codes) that JSON keeps as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import current_app, has_request_context, url_for
from werkzeug.routing import BuildError


@dataclass(frozen=True)
class Link:
    endpoint: str
    args: dict[str, str | int] = field(default_factory=dict)

    def url(self) -> str:
        return path_for(self.endpoint, self.args)


def path_for(endpoint: str, args: dict[str, Any]) -> str:
    """The path of an endpoint, in a request or not: a background job that tells people (an import finished, a
    deadline passed) builds the same links a page would."""
    if has_request_context():
        return url_for(endpoint, **args)
    adapter = current_app.url_map.bind("localhost", script_name=current_app.config.get("APPLICATION_ROOT") or "/")
    return adapter.build(endpoint, args)


def link(endpoint: str, **args: str | int) -> Link:
    """`link("claims.claim_page", claim_id=claim.id)`."""
    return Link(endpoint, dict(args))


def stored_url(endpoint: str | None, args: dict[str, Any] | None, legacy_path: str = "") -> str:
    """The URL of a stored link; a route that no longer exists (or a row from before links were typed, which kept a
    path) gives the stored path, or nothing."""
    if endpoint:
        try:
            return path_for(endpoint, args or {})
        except BuildError:
            return ""
    return legacy_path
