"""The announcement form (a draft, changed until it is published)."""

from __future__ import annotations

import re
from typing import Any

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional, ValidationError

from portal.dealers.audiences import AudienceKind, parse_codes
from portal.dealers.models import DealerTier
from portal.forms_common import CheckboxesField, enum_choices
from portal.news.rules import AnnouncementKind
from portal.request_locale import lazy_gettext as _l

POLICY_KEY = re.compile(r"[a-z0-9][a-z0-9-]{0,59}")


class AnnouncementForm(FlaskForm):
    kind = SelectField(_l("Kind"), choices=enum_choices(AnnouncementKind), default=AnnouncementKind.NEWS.value)
    title_en = StringField(_l("Title in English"), validators=[Length(max=200)])
    body_en = TextAreaField(_l("Text in English (Markdown)"), validators=[Length(max=50_000)])
    title_zh = StringField(_l("Title in Chinese"), validators=[Length(max=200)])
    body_zh = TextAreaField(_l("Text in Chinese (Markdown)"), validators=[Length(max=50_000)])
    audience_kind = SelectField(_l("For"), choices=enum_choices(AudienceKind), default=AudienceKind.ALL.value)
    tiers = CheckboxesField(_l("Tiers"), choices=enum_choices(DealerTier), validate_choice=True)
    audience_codes = TextAreaField(
        _l("Territory or dealer codes (one per line or separated by commas)"), validators=[Length(max=20_000)]
    )
    pinned = BooleanField(_l("Pinned: shown first"))
    must_acknowledge = BooleanField(_l("Dealers must acknowledge it (a policy change, a penalty schedule)"))
    expires_on = DateField(_l("Shown until (empty: until withdrawn)"), validators=[Optional()])
    policy_key = StringField(_l("Policy key (policies only)"), validators=[Length(max=60)])

    def validate_title_zh(self, field: Any) -> None:
        if not (self.title_en.data or "").strip() and not (field.data or "").strip():
            raise ValidationError(_l("Give it a title, in either language."))

    def validate_policy_key(self, field: Any) -> None:
        key = (field.data or "").strip().lower()
        if self.kind.data == AnnouncementKind.POLICY.value and not POLICY_KEY.fullmatch(key):
            raise ValidationError(_l("A policy's key: lower-case letters, digits and hyphens, e.g. penalty-schedule."))

    def values(self) -> dict[str, Any]:
        kind = AudienceKind(self.audience_kind.data)
        if kind is AudienceKind.TIERS:
            audience = sorted(self.tiers.data or [])
        elif kind is AudienceKind.ALL:
            audience = []
        else:
            audience = parse_codes(self.audience_codes.data or "")
        announcement_kind = AnnouncementKind(self.kind.data)
        return {
            "kind": announcement_kind,
            "title_en": (self.title_en.data or "").strip(),
            "title_zh": (self.title_zh.data or "").strip(),
            "body_en": self.body_en.data or "",
            "body_zh": self.body_zh.data or "",
            "audience_kind": kind,
            "audience": audience,
            "pinned": bool(self.pinned.data),
            "must_acknowledge": bool(self.must_acknowledge.data),
            "expires_on": self.expires_on.data,
            "policy_key": (self.policy_key.data or "").strip().lower() or None
            if announcement_kind is AnnouncementKind.POLICY
            else None,
        }
