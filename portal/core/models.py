"""Rows that belong to the portal as a whole rather than to one business area."""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db


class DataGeneration(db.Model):  # type: ignore[name-defined, misc]
    """One row whose number goes up in every transaction that writes: a rendered page is current while it holds."""

    __tablename__ = "data_generation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
