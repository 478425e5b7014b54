"""The fapiao a claim rests on: its QR code read on the server fills the claim (a photo of a printed invoice, a
fully digital e-invoice as PDF), a blurred one leaves the fields to the dealer, the numbers people type are compared
by their digits across dealers, the vendor's credit code is checked, and a claim above the invoice's total is
refused."""

from __future__ import annotations

import io
from datetime import date

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from portal.claims import services
from portal.claims.invoices import (
    CREDIT_CODE_ALPHABET,
    InvoiceType,
    normalised_number,
    read_fapiao_qr,
    valid_credit_code,
)
from portal.claims.models import Claim, ClaimFlag
from portal.claims.rules import Flag, Problem
from portal.evidence.services import add_evidence
from portal.extensions import db
from tests.evidence_files import as_jpeg, fapiao_image, fapiao_qr_text, image_as_pdf
from tests.factories import Channel, attach, draft, user
from tests.helpers import log_in

FULL_WIDTH_DIGITS = {ord(str(digit)): chr(0xFF10 + digit) for digit in range(10)}


def _credit_code_check(first_17: str) -> str:
    """GB 32100-2015 written out again: weights 3^i mod 31, the check is (31 - sum mod 31) mod 31."""
    weights = [pow(3, position, 31) for position in range(17)]
    total = sum(
        CREDIT_CODE_ALPHABET.index(character) * weight for character, weight in zip(first_17, weights, strict=True)
    )
    return CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


def test_unified_social_credit_codes_are_checked_by_their_last_character() -> None:
    assert valid_credit_code("91350100M000100Y43")  # the standard's published example
    assert valid_credit_code("91440300708461136T")
    assert valid_credit_code("91350100m000100y43".translate(FULL_WIDTH_DIGITS))  # full width, lower case
    for wrong in ("91350100M000100Y44", "91350100M000100Y4", "", "91350100I000100Y43"):
        assert not valid_credit_code(wrong)


@given(st.text(alphabet=CREDIT_CODE_ALPHABET, min_size=17, max_size=17))
def test_every_credit_code_with_its_computed_check_character_is_valid(first_17: str) -> None:
    check = _credit_code_check(first_17)
    assert valid_credit_code(first_17 + check)
    assert not any(valid_credit_code(first_17 + other) for other in CREDIT_CODE_ALPHABET if other != check)


def test_invoice_numbers_are_compared_by_what_they_say() -> None:
    for typed in ("No.12345678", "1234 5678", "12345678".translate(FULL_WIDTH_DIGITS), "NO:12345678", "12345678 "):
        assert normalised_number(typed, InvoiceType.SPECIAL) == "12345678"
        assert normalised_number(typed, InvoiceType.OTHER) == "12345678"
    assert normalised_number("No. INV-42", InvoiceType.OTHER) == normalised_number("inv 42", InvoiceType.OTHER)
    assert normalised_number("NORTH-1", InvoiceType.OTHER) == "NORTH1"  # "No" only as a prefix before the number


def test_the_qr_text_of_both_invoice_formats() -> None:
    printed = read_fapiao_qr(fapiao_qr_text())
    assert printed is not None
    assert (printed.invoice_type, printed.code, printed.number) == (InvoiceType.ORDINARY, "3100204130", "12345678")
    assert str(printed.amount_before_tax) == "1000.00" and printed.issued_on == date(2026, 11, 20)
    digital = read_fapiao_qr(fapiao_qr_text(type_code="32", code="", number="24442000000012345678"))
    assert digital is not None and digital.invoice_type is InvoiceType.DIGITAL and digital.code == ""
    assert read_fapiao_qr(fapiao_qr_text(type_code="31", code="", number="1234")) is None  # not 20 digits
    for other in ("https://shop.example/pay?id=1", "", "01,99,1,2,3,4,5", "a,b,c,d,e,f,g"):
        assert read_fapiao_qr(other) is None


def _blank_draft_as_its_dealer(app: Flask, client: FlaskClient, channel: Channel) -> int:
    """A draft with no invoice, vendor or tax id, and its dealer's owner logged in on `client`."""
    with app.app_context():
        claim_id = draft(channel, invoice="", vendor="", tax_id="").id
        db.session.commit()
    log_in(client, channel.emails["dealer_owner"])
    return claim_id


def _upload(client: FlaskClient, claim_id: int, content: bytes, name: str) -> None:
    response = client.post(f"/claims/{claim_id}/evidence", data={"file": (io.BytesIO(content), name)})
    assert response.status_code == 303, response.get_data(as_text=True)[:500]


def test_a_photo_of_the_invoice_fills_the_claim_and_saving_confirms_it(
    app: Flask, client: FlaskClient, budgets_set: Channel
) -> None:
    claim_id = _blank_draft_as_its_dealer(app, client, budgets_set)
    _upload(client, claim_id, as_jpeg(fapiao_image(fapiao_qr_text()), quality=70, scale=0.8), "fapiao.jpg")
    with app.app_context():
        claim = db.session.get(Claim, claim_id)
        assert claim is not None
        assert (claim.invoice_type, claim.invoice_code, claim.invoice_number) == ("ordinary", "3100204130", "12345678")
        assert claim.invoice_date == date(2026, 11, 20) and claim.invoice_amount_before_tax == 100_000
        assert claim.invoice_read_from_id is not None
    page = client.get(f"/claims/{claim_id}").get_data(as_text=True)
    assert "The invoice fields were read from the QR code" in page
    form = client.get(f"/claims/{claim_id}/edit").get_data(as_text=True)
    assert 'value="3100204130"' in form and 'value="12345678"' in form and 'value="1000.00"' in form
    saved = client.post(
        f"/claims/{claim_id}/edit",
        data={
            "period": budgets_set.current_period,
            "activity_type_id": _activity(app, claim_id),
            "title": "Shop window display",
            "activity_start": _day(app, claim_id),
            "activity_end": _day(app, claim_id),
            "invoice_type": "ordinary",
            "invoice_code": "3100204130",
            "invoice_number": "12345678",
            "invoice_date": "2026-11-20",
            "vendor": "Shanghai Print Co.",
            "vendor_tax_id": "91350100M000100Y43",
            "invoice_amount_before_tax": "1,000.00",
            "invoice_tax": "130.00",
            "amount": "1,130.00",
        },
    )
    assert saved.status_code == 303, saved.get_data(as_text=True)[:2000]
    with app.app_context():
        claim = db.session.get(Claim, claim_id)
        assert claim is not None and claim.invoice_read_from_id is None
        assert claim.invoice_total == 100_000 + 13_000  # computed from its parts when left empty
    assert "The invoice fields were read from the QR code" not in client.get(f"/claims/{claim_id}").get_data(
        as_text=True
    )


def _activity(app: Flask, claim_id: int) -> str:
    with app.app_context():
        claim = db.session.get(Claim, claim_id)
        return str(claim.activity_type_id) if claim else ""


def _day(app: Flask, claim_id: int) -> str:
    with app.app_context():
        claim = db.session.get(Claim, claim_id)
        return claim.activity_end.isoformat() if claim else ""


def test_a_digital_e_invoice_pdf_fills_the_claim(app: Flask, budgets_set: Channel) -> None:
    with app.app_context():
        claim = draft(budgets_set, invoice="", vendor="", tax_id="")
        qr = fapiao_qr_text(type_code="32", code="", number="24442000000012345678", amount="2500.50")
        add_evidence(
            user(budgets_set, "dealer_owner"),
            services.CLAIM_OWNER,
            claim.id,
            io.BytesIO(image_as_pdf(fapiao_image(qr))),
            "dzfp_24442000000012345678.pdf",
        )
        assert (claim.invoice_type, claim.invoice_code, claim.invoice_number) == ("digital", "", "24442000000012345678")
        assert claim.invoice_amount_before_tax == 250_050


def test_a_blurred_invoice_leaves_the_fields_to_the_dealer(
    app: Flask, client: FlaskClient, budgets_set: Channel
) -> None:
    claim_id = _blank_draft_as_its_dealer(app, client, budgets_set)
    _upload(client, claim_id, as_jpeg(fapiao_image(fapiao_qr_text(), blur=8)), "blurred.jpg")
    with app.app_context():
        claim = db.session.get(Claim, claim_id)
        assert claim is not None and claim.invoice_number == "" and claim.invoice_read_from_id is None
        # The dealer types the invoice by hand and submits.
        services.update_draft(
            user(budgets_set, "dealer_owner"),
            claim,
            services.ClaimInput(
                activity_type_id=claim.activity_type_id,
                title=claim.title,
                description="",
                activity_start=claim.activity_start,
                activity_end=claim.activity_end,
                vendor="Print Co",
                vendor_tax_id="",
                invoice_number="1234 5678",
                invoice_code="3100204130",
                invoice_type="special",
                amount=claim.amount_requested,
            ),
        )
        services.submit(user(budgets_set, "dealer_owner"), claim)
        assert claim.invoice_number == "12345678"


def test_a_claim_above_the_invoice_total_is_refused_and_a_wrong_tax_id_is_named(
    app: Flask, client: FlaskClient, budgets_set: Channel
) -> None:
    with app.app_context():
        claim = draft(budgets_set, amount=120_000)
        attach(budgets_set, claim)
        claim.invoice_total = 113_000
        db.session.flush()
        problems = services.problems_before_submitting(claim)
        assert problems == [Problem.OVER_INVOICE_TOTAL]
        activity_id, day = claim.activity_type_id, claim.activity_end.isoformat()
        db.session.commit()
    log_in(client, budgets_set.emails["dealer_owner"])
    refused = client.post(
        "/claims/new",
        data={
            "period": budgets_set.current_period,
            "activity_type_id": str(activity_id),
            "title": "Banner",
            "activity_start": day,
            "activity_end": day,
            "invoice_type": "special",
            "vendor_tax_id": "91350100M000100Y44",
            "invoice_number": "87654321",
            "amount": "500.00",
        },
    )
    assert refused.status_code == 422
    assert "This is not a unified social credit code" in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(select(Claim).where(Claim.title == "Banner")).first() is None


def test_one_invoice_typed_two_ways_by_two_dealers_is_flagged_and_a_near_miss_is_not(
    app: Flask, budgets_set: Channel
) -> None:
    with app.app_context():
        ours = draft(budgets_set, invoice="No.12345678")
        ours.invoice_code = "3100204130"
        attach(budgets_set, ours)
        services.submit(user(budgets_set, "dealer_owner"), ours)
        theirs = draft(budgets_set, invoice="1234 5678".translate(FULL_WIDTH_DIGITS), role="foreign_owner", tax_id="")
        attach(budgets_set, theirs, role="foreign_owner")
        services.submit(user(budgets_set, "foreign_owner"), theirs)  # no code given: the number alone matches
        near = draft(budgets_set, invoice="12345678", role="foreign_owner", tax_id="")
        near.invoice_code = "4400204130"  # another issuer's invoice with the same number
        attach(budgets_set, near, role="foreign_owner")
        services.submit(user(budgets_set, "foreign_owner"), near)

        def flagged(claim: Claim) -> list[int] | None:
            flag = db.session.execute(
                select(ClaimFlag).where(ClaimFlag.claim_id == claim.id, ClaimFlag.flag == Flag.SAME_INVOICE_ELSEWHERE)
            ).scalar_one_or_none()
            return flag.related_claims if flag else None

        assert flagged(ours) == [theirs.id]  # not the near-miss: another code
        assert flagged(near) == [theirs.id]  # only the one without a code could be the same invoice
        assert flagged(theirs) == sorted([ours.id, near.id])
