"""Each role's landing page after login."""

from __future__ import annotations

from typing import Protocol

from flask import url_for

from portal.access import AccessRole

HOME_ENDPOINTS = {
    AccessRole.DEALER_OWNER: "dealers.dealer_home",
    AccessRole.DEALER_STAFF: "dealers.dealer_home",
    AccessRole.MANAGER: "dealers.portfolio",
    AccessRole.SENIOR_MANAGER: "dealers.portfolio",
    AccessRole.MEDIATOR: "disputes.mediation_home",
    AccessRole.ADMIN: "core.admin_home",
}


class HasAccessRole(Protocol):
    @property
    def access_role(self) -> AccessRole: ...


def home_url(user: HasAccessRole) -> str:
    return url_for(HOME_ENDPOINTS[user.access_role])
