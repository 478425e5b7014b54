"""Part of `make bench-busy`: the traffic of a busy channel while the pages are measured.

Once a second, for a dealer chosen at random among all of them, one of the things dealers do all day, through the
portal's own services and committed like a request would: a claim drafted, the notifications read, a place in a
training session taken (or given back when they already hold one). Each write makes stale the cached pages that can
show it: the dealer's, their manager's, the mediator's (who reads every dealer), and for an enrolment the seats
every dealer's catalogue shows. Runs until it is stopped (SIGTERM), then prints what it wrote as JSON.
Run by scripts/bench.py in a subprocess with the benchmark's environment (DATABASE_URL).
"""

from __future__ import annotations

import json
import random
import signal
import sys
import time
from collections import Counter
from pathlib import Path
from types import FrameType

from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from portal import create_app
from portal.accounts.models import User
from portal.claims import services as claims
from portal.claims.models import ActivityType
from portal.dates import company_today
from portal.dealers.services import current_period
from portal.extensions import db
from portal.notifications.services import mark_all_read
from portal.service_errors import Forbidden, IllegalTransition, InvalidInput, NotFound
from portal.training import services as training
from portal.training.models import CourseSession, Enrollment
from portal.training.rules import ACTIVE
from portal.types import utcnow

ACTIONS = ("claim draft", "notifications read", "enrolment")
REFUSED = (Forbidden, IllegalTransition, InvalidInput, NotFound)


class Stop(Exception):
    pass


def stop(_signal: int, _frame: FrameType | None) -> None:
    raise Stop


def draft_a_claim(owner: User, number: int) -> None:
    period = current_period()
    if period is None:
        raise NotFound()  # no open quarter today: nothing to claim in
    kind = db.session.execute(select(ActivityType).order_by(ActivityType.id).limit(1)).scalar_one()
    day = company_today()
    claims.create_draft(
        owner,
        period,
        claims.ClaimInput(
            activity_type_id=kind.id,
            title=f"Window display {number}",
            description="Two weeks in the main street shop",
            activity_start=day,
            activity_end=day,
            vendor="Sunrise Printing",
            vendor_tax_id="",
            invoice_number=f"BUSY{number:08d}",
            amount=86_000,
        ),
    )


def take_or_give_back_a_seat(owner: User, chooser: random.Random) -> None:
    sessions = list(
        db.session.execute(select(CourseSession).where(CourseSession.enrol_deadline > utcnow()).limit(20)).scalars()
    )
    if not sessions:
        return
    session = chooser.choice(sessions)
    held = db.session.execute(
        select(Enrollment).where(
            Enrollment.session_id == session.id,
            Enrollment.person_key == f"u{owner.id}",
            Enrollment.status.in_(ACTIVE),
        )
    ).scalar_one_or_none()
    if held is None:
        training.enrol(owner, session, f"u{owner.id}")
    else:
        training.cancel_enrollment(owner, held)


def main() -> int:
    signal.signal(signal.SIGTERM, stop)
    app = create_app()
    chooser = random.Random(11)  # noqa: S311 - benchmark traffic
    with app.app_context():
        owners = list(db.session.execute(select(User.id).where(User.dealer_id.is_not(None), User.active)).scalars())
        db.session.remove()
    written: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    number = 0
    try:
        while True:
            started = time.monotonic()
            action = ACTIONS[number % len(ACTIONS)]
            with app.app_context():
                owner = db.session.get_one(User, chooser.choice(owners))
                try:
                    if action == "claim draft":
                        draft_a_claim(owner, number)
                    elif action == "notifications read":
                        mark_all_read(owner)
                    else:
                        take_or_give_back_a_seat(owner, chooser)
                    db.session.commit()
                    written[action] += 1
                except REFUSED:  # a staff member may not draft, a session may be full: the portal said no
                    db.session.rollback()
                    refused[action] += 1
                finally:
                    db.session.remove()
            number += 1
            time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
    except (Stop, KeyboardInterrupt):
        pass
    print(json.dumps({"written": dict(written), "refused": dict(refused), "seconds": number}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
