"""The phone's quick claim: files, amount and activity on one page, submitted at once; the rules checked as the
dealer types; a refused file keeps nothing, a refused submission keeps the draft with its files. Inputs as people
make them: a WeChat-recompressed shop photo, a photographed fapiao with its QR code, amounts typed with commas."""

from __future__ import annotations

import functools
import io
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from portal.accounts.models import User
from portal.claims import budgets, services
from portal.claims.models import ActivityType, Claim, ClaimFlag, FundAllocation
from portal.claims.rules import ClaimStatus, Flag
from portal.database import begin_write
from portal.dealers.models import Dealer, Period
from portal.evidence.models import Evidence
from portal.extensions import db
from tests.evidence_files import as_jpeg, broken_pdf, fapiao_image, fapiao_qr_text, pdf, shop_photo
from tests.factories import World, examples, make_world, today
from tests.helpers import BACKENDS, dispose_app, example_savepoint, fingerprint, logged_in_client, race_app
from tests.state_changing import _quick_claim_form
from tests.threads import run_together

pytestmark = pytest.mark.calendar


@functools.cache
def _wechat_photo(seed: int = 3) -> bytes:
    """A shop photo as WeChat passes it on: scaled down and recompressed hard."""
    return as_jpeg(shop_photo(seed), quality=60, scale=0.5)


def _form(world: World, **changes: object) -> dict[str, object]:
    """The phone's claim with today's dates, a WeChat photo and a PDF, and an amount typed with a comma."""
    day = today().isoformat()
    files = [(io.BytesIO(_wechat_photo()), "mmexport1733456789.jpg"), (io.BytesIO(pdf()), "发票.pdf")]
    base = {**_quick_claim_form(world), "files": files, "amount": "1,234.50", "activity_start": day}
    return {**base, "activity_end": day, **changes}


def _left_by_hand(app: Flask, world: World) -> int:
    """What the budget has left, summed here from the rows: allocation less approved, less what waiting claims hold."""
    with app.app_context():
        dealer = db.session.execute(select(Dealer).where(Dealer.code == world.own_dealer)).scalar_one()
        period = db.session.execute(select(Period).where(Period.code == world.current_period)).scalar_one()
        allocation = db.session.execute(
            select(FundAllocation.amount).where(
                FundAllocation.dealer_id == dealer.id, FundAllocation.period_id == period.id
            )
        ).scalar_one_or_none()
        claims = db.session.execute(
            select(Claim).where(Claim.dealer_id == dealer.id, Claim.period_id == period.id)
        ).scalars()
        left = allocation or 0
        for claim in claims:
            if claim.status.value in ("approved", "partially_approved", "paid"):
                left -= claim.amount_approved or 0
            elif claim.status.value in ("submitted", "awaiting_second_approval", "needs_info"):
                left -= claim.budget_held
        return left


def _claim_of(app: Flask, location: str) -> tuple[Claim, list[str]]:
    claim_id = int(re.search(r"/claims/(\d+)", location).group(1))  # type: ignore[union-attr]
    with app.app_context():
        claim = db.session.get(Claim, claim_id)
        assert claim is not None
        names = list(
            db.session.execute(
                select(Evidence.original_name).where(Evidence.owner_type == "claim", Evidence.owner_id == claim_id)
            ).scalars()
        )
        db.session.expunge(claim)
        return claim, names


def _claim_count(app: Flask) -> tuple[int, int]:
    with app.app_context():
        return (
            db.session.execute(select(func.count()).select_from(Claim)).scalar_one(),
            db.session.execute(select(func.count()).select_from(Evidence)).scalar_one(),
        )


def test_the_page_starts_with_today_the_last_activity_and_the_budget_left(app: Flask, world: World) -> None:
    dealer = logged_in_client(app, world.emails["dealer_owner"])
    page = dealer.get("/claims/quick").get_data(as_text=True)
    assert 'type="file"' in page and "multiple" in page and 'accept="image/*,application/pdf"' in page
    assert f'name="activity_start" required type="date" value="{today().isoformat()}"' in page or (
        f'value="{today().isoformat()}"' in page
    )
    assert re.search(rf'<option selected value="{world.claims.activity_type}">', page)
    left = _left_by_hand(app, world)
    shown = f"CN¥{Decimal(left).scaleb(-2):,.2f}"
    assert f"the {world.current_period} budget: {shown} left" in page
    assert "Last day to submit" in page
    assert 'data-keep-draft="quick-claim-' in page and 'hx-get="/claims/quick/check"' in page


def test_a_claim_with_two_files_is_submitted_in_one_post(app: Flask, world: World) -> None:
    before = _left_by_hand(app, world)
    dealer = logged_in_client(app, world.emails["dealer_owner"])
    response = dealer.post("/claims/quick", data=_form(world))
    assert response.status_code == 303, response.get_data(as_text=True)[-2000:]
    assert "sent=quick" in response.headers["Location"]
    claim, names = _claim_of(app, response.headers["Location"])
    assert claim.status is ClaimStatus.SUBMITTED and claim.submission_count == 1
    assert claim.amount_requested == 123_450 == claim.budget_held  # "1,234.50" yuan in fen
    assert sorted(names) == sorted(["mmexport1733456789.jpg", "发票.pdf"])
    with app.app_context():
        kind = db.session.get(ActivityType, world.claims.activity_type)
        assert kind is not None
        assert claim.title.startswith(kind.name_en + " · ")
    assert _left_by_hand(app, world) == before - 123_450
    page = dealer.get(response.headers["Location"]).get_data(as_text=True)
    assert "The claim is submitted." in page and 'data-forget-draft="quick-claim-' in page


def test_a_photographed_fapiao_fills_the_invoice_and_another_dealer_reusing_it_is_flagged(
    app: Flask, world: World
) -> None:
    photo = as_jpeg(fapiao_image(fapiao_qr_text(number="87654321", amount="500.00")), quality=70)
    dealer = logged_in_client(app, world.emails["dealer_owner"])
    first = dealer.post("/claims/quick", data=_form(world, files=[(io.BytesIO(photo), "IMG_2041.JPG")]))
    assert first.status_code == 303
    claim, _names = _claim_of(app, first.headers["Location"])
    assert claim.invoice_number == "87654321" and claim.status is ClaimStatus.SUBMITTED
    # As the other dealer types the same number, the page says so before Submit, without naming the claim.
    with app.app_context():
        admin = db.session.execute(select(User).where(User.email == world.emails["admin"])).scalar_one()
        foreign = db.session.execute(select(Dealer).where(Dealer.code == world.foreign_dealer)).scalar_one()
        period = db.session.execute(select(Period).where(Period.code == world.current_period)).scalar_one()
        budgets.set_allocation(admin, foreign, period, budgets.budget_of(foreign, period).allocation + 1_000_000)
        db.session.commit()
    other = logged_in_client(app, world.emails["foreign_owner"])
    check = other.get("/claims/quick/check", query_string={"invoice_number": "8765 4321"}).get_data(as_text=True)
    assert "1 claim of another dealer: it will be flagged for review." in check and claim.title not in check
    # The dealer's own claim is named, with a link.
    own = dealer.get("/claims/quick/check", query_string={"invoice_number": "87654321"}).get_data(as_text=True)
    assert f'href="/claims/{claim.id}"' in own
    second = other.post("/claims/quick", data=_form(world, files=[(io.BytesIO(photo), "wx_camera.jpg")]))
    assert second.status_code == 303
    reused, _names = _claim_of(app, second.headers["Location"])
    with app.app_context():
        flags = set(db.session.execute(select(ClaimFlag.flag).where(ClaimFlag.claim_id == reused.id)).scalars())
    assert Flag.SAME_INVOICE_ELSEWHERE in flags


def test_the_live_check_names_every_problem_before_submit(app: Flask, world: World) -> None:
    dealer = logged_in_client(app, world.emails["dealer_owner"])
    left = _left_by_hand(app, world)
    over = Decimal(left + 100).scaleb(-2)
    check = dealer.get(
        "/claims/quick/check",
        query_string={
            "amount": f"{over:,.2f}",
            "activity_type_id": str(world.claims.activity_type),
            "activity_start": today().isoformat(),
            "activity_end": today().isoformat(),
        },
    )
    assert check.status_code == 200
    text = check.get_data(as_text=True)
    assert 'id="quick-check"' in text and "This claim cannot be submitted yet:" in text
    assert "The amount is more than what is left of the budget." in text
    fitting = dealer.get(
        "/claims/quick/check",
        query_string={
            "amount": "1.00",
            "activity_type_id": str(world.claims.activity_type),
            "activity_start": today().isoformat(),
            "activity_end": today().isoformat(),
        },
    ).get_data(as_text=True)
    assert "cannot be submitted yet" not in fitting
    future = (today() + timedelta(days=400)).isoformat()
    later = dealer.get(
        "/claims/quick/check", query_string={"activity_start": future, "activity_end": future, "amount": "1"}
    ).get_data(as_text=True)
    assert "cannot be submitted yet" in later
    long_ago = date(2001, 1, 5).isoformat()
    closed = dealer.get(
        "/claims/quick/check", query_string={"activity_start": long_ago, "activity_end": long_ago}
    ).get_data(as_text=True)
    assert "cannot be submitted yet" in closed
    nonsense = dealer.get(
        "/claims/quick/check", query_string={"amount": "lots", "activity_end": "yesterday", "activity_type_id": "x"}
    )
    assert nonsense.status_code == 200 and "cannot be submitted yet" not in nonsense.get_data(as_text=True)


def test_over_budget_problem_matches_the_submission_rule(app: Flask, world: World) -> None:
    """The live check and the submission say the same thing: over by one fen is refused, exactly the rest is not."""
    dealer = logged_in_client(app, world.emails["dealer_owner"])
    left = _left_by_hand(app, world)
    common = {
        "activity_type_id": str(world.claims.activity_type),
        "activity_start": today().isoformat(),
        "activity_end": today().isoformat(),
    }
    exact = dealer.get(
        "/claims/quick/check", query_string={**common, "amount": f"{Decimal(left).scaleb(-2):.2f}"}
    ).get_data(as_text=True)
    one_over = dealer.get(
        "/claims/quick/check", query_string={**common, "amount": f"{Decimal(left + 1).scaleb(-2):.2f}"}
    ).get_data(as_text=True)
    assert "cannot be submitted yet" not in exact and "cannot be submitted yet" in one_over


def test_a_refused_file_keeps_nothing(app: Flask, world: World) -> None:
    dealer = logged_in_client(app, world.emails["dealer_owner"])
    before = _claim_count(app)
    files = [(io.BytesIO(_wechat_photo()), "shop.jpg"), (io.BytesIO(broken_pdf()), "scan.pdf")]
    response = dealer.post("/claims/quick", data=_form(world, files=files))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "There is 1 problem" in page and "scan.pdf:" in page
    assert 'value="1,234.50"' in page  # what was typed stays
    assert _claim_count(app) == before


def test_no_file_is_refused_with_the_reason(app: Flask, world: World) -> None:
    dealer = logged_in_client(app, world.emails["dealer_owner"])
    before = _claim_count(app)
    response = dealer.post("/claims/quick", data=_form(world, files=[]))
    assert response.status_code == 422
    assert "Add a photo or a PDF of the invoice." in response.get_data(as_text=True)
    assert _claim_count(app) == before


def test_a_submission_refused_after_all_keeps_the_draft_and_its_files(app: Flask, world: World) -> None:
    """The budget cannot cover it: the files the phone sent are kept on a draft, with the reason."""
    dealer = logged_in_client(app, world.emails["dealer_owner"])
    left = _left_by_hand(app, world)
    response = dealer.post("/claims/quick", data=_form(world, amount=f"{Decimal(left + 1).scaleb(-2):.2f}"))
    assert response.status_code == 303
    claim, names = _claim_of(app, response.headers["Location"])
    assert claim.status is ClaimStatus.DRAFT and len(names) == 2
    page = dealer.get(response.headers["Location"]).get_data(as_text=True)
    assert "Saved as a draft with its files, not submitted:" in page
    assert _left_by_hand(app, world) == left


HOSTILE = st.one_of(
    st.text(max_size=80),
    st.sampled_from(
        ["", " ", "\x00", "12,34,5.6", "-5", "1e9", "９９９.００", "２０２６-１２-０１", "2026-02-30", "¥1,000"]
    ),
)


@settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_hostile_input_never_500s_or_half_saves(
    app: Flask, db_connection: sa.Connection, world: World, data: st.DataObject
) -> None:
    """Whatever is typed: a submitted claim with all its files, a kept draft with all its files, or nothing."""
    form = {
        name: data.draw(st.one_of(st.just(value), HOSTILE), label=name)
        for name, value in _form(world).items()
        if name != "files"
    }
    files = data.draw(st.sampled_from(["both", "none", "broken"]), label="files")
    chosen = {
        "both": [(io.BytesIO(_wechat_photo()), "a.jpg"), (io.BytesIO(pdf()), "b.pdf")],
        "none": [],
        "broken": [(io.BytesIO(pdf()), "b.pdf"), (io.BytesIO(broken_pdf()), "c.pdf")],
    }[files]
    with example_savepoint(db_connection):
        dealer = logged_in_client(app, world.emails["dealer_owner"])
        before = fingerprint(app)
        claims_before = _claim_count(app)
        response = dealer.post("/claims/quick", data={**form, "files": chosen})
        # 400: a NUL byte in a field, refused before the view
        assert response.status_code in (303, 400, 422), response.status_code
        if response.status_code != 303:
            assert fingerprint(app) == before and _claim_count(app) == claims_before
        else:
            claim, names = _claim_of(app, response.headers["Location"])
            assert len(names) == 2 and claim.status in (ClaimStatus.SUBMITTED, ClaimStatus.DRAFT)


# --- Two phones, the last of the budget -----------------------------------------------------------------------------


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_two_quick_claims_for_the_last_of_the_budget_submit_one(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Each fits what is left, together they do not: one is submitted, the other stays a draft with its file."""
    app = race_app(backend_name, tmp_path_factory)
    with app.app_context():
        world = make_world()
        dealer = db.session.execute(select(Dealer).where(Dealer.code == world.own_dealer)).scalar_one()
        period = db.session.execute(select(Period).where(Period.code == world.current_period)).scalar_one()
        admin = db.session.execute(select(User).where(User.email == world.emails["admin"])).scalar_one()
        kind = db.session.execute(select(ActivityType.id).where(ActivityType.needs_pre_approval.is_(False))).scalar()
        budgets.set_allocation(admin, dealer, period, budgets.budget_of(dealer, period).approved + 10_000_000)
        db.session.commit()
        left = budgets.budget_of(dealer, period).left
    amount = left // 2 + 1

    def quick(email: str):  # type: ignore[no-untyped-def]
        def work(wait):  # type: ignore[no-untyped-def]
            with app.app_context():
                actor = db.session.execute(select(User).where(User.email == email)).scalar_one()
                data = services.ClaimInput(
                    activity_type_id=kind or 0,
                    title="Window",
                    description="",
                    activity_start=today(),
                    activity_end=today(),
                    vendor="",
                    vendor_tax_id="",
                    invoice_number="",
                    amount=amount,
                )
                wait()
                begin_write()  # as a POST does: SQLite's write lock first, so the two take turns
                try:
                    result = services.claim_in_one_go(actor, data, [(io.BytesIO(pdf()), f"{email}.pdf")])
                    db.session.commit()
                    return "draft" if result.problems else "submitted"
                finally:
                    db.session.remove()

        return work

    try:
        results = run_together([quick(world.emails["dealer_owner"]), quick(world.emails["dealer_staff"])])
        with app.app_context():
            after = budgets.budget_of(
                db.session.execute(select(Dealer).where(Dealer.code == world.own_dealer)).scalar_one(),
                db.session.execute(select(Period).where(Period.code == world.current_period)).scalar_one(),
            )
            files = db.session.execute(select(func.count()).select_from(Evidence)).scalar_one()
    finally:
        dispose_app(app)
    assert sorted(results) == ["draft", "submitted"]
    assert after.left == left - amount and after.left >= 0
    assert files >= 2
