"""Errors services raise for views to turn into answers: a field message (422) or a refused transition (409)."""

from __future__ import annotations


class InvalidInput(Exception):
    """Input the form could not know was wrong (a code already taken); shown next to `field`."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class IllegalTransition(Exception):
    """A change the current state does not allow, or one someone else made first."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
