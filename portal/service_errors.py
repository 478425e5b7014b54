"""The errors services raise, in the domain's words; one error handler (portal.errors) turns each into an answer:
NotFound 404, Forbidden 403, InvalidInput 422 next to its field, IllegalTransition 409. Services never speak HTTP."""

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


class NotFound(Exception):
    """No such object, or one the actor may not know exists: both answer 404, so a foreign id gives nothing away."""


class Forbidden(Exception):
    """The actor knows the object (or the page) exists but may not do this: 403."""
