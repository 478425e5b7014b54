"""The one way a status moves in every area: a conditional UPDATE that succeeds only if the row still has the
status its caller read. Two people deciding at once: one UPDATE changes the row, the other changes nothing and
its caller refuses with a clear message. Each area keeps its own transition table and messages."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from portal.database import rows_changed
from portal.extensions import db
from portal.page_cache import writes_for, writes_for_row
from portal.service_errors import IllegalTransition


def move_if_still(model: Any, row_id: int, current: Any, target: Any, **values: Any) -> bool:
    """Set `status` to `target` (and `values`) where the row still has `current`; True if it did. The cached pages
    made stale are the row's, by its table's declared scope (the row is usually loaded already)."""
    row = db.session.get(model, row_id)
    with writes_for_row(row) if row is not None else writes_for(channel=True):
        changed = rows_changed(
            db.session.execute(
                update(model)
                .where(model.id == row_id, model.status == current)
                .values(status=target, **values)
                .execution_options(synchronize_session=False)
            )
        )
    return changed == 1


def move_checked(row: Any, current: Any, target: Any, *, legal: bool, illegal: str, raced: str, **values: Any) -> None:
    """Refuse an illegal move with `illegal`; move the row if it still has `current`, else refuse with `raced` (the
    other person's change won); reload the row either way it moved."""

    if not legal:
        raise IllegalTransition(illegal)
    if not move_if_still(type(row), row.id, current, target, **values):
        raise IllegalTransition(raced)
    db.session.expire(row)
