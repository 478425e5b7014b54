"""Evidence compared by what it shows: the same photo forwarded through WeChat (smaller, lower quality) and the same
PDF saved again by another program are found in another dealer's claim, both claims carry the flag, and the
reviewer sees the two files side by side with their distance. Different pictures and documents never flag."""

from __future__ import annotations

import io

import sqlalchemy as sa
from flask import Flask, current_app
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from portal.claims import services
from portal.claims.models import Claim, ClaimFlag
from portal.claims.rules import Flag
from portal.evidence.fingerprints import BANDS, NEAR_PICTURE_DISTANCE, bands_of, distance
from portal.evidence.models import Evidence, EvidencePicture
from portal.evidence.services import add_evidence, same_evidence
from portal.evidence.storage import storage_of
from portal.extensions import db
from tests.evidence_files import as_jpeg, pdf, resaved_pdf, shop_photo
from tests.factories import Channel, draft, user
from tests.helpers import log_in


def _claim_with(channel: Channel, role: str, content: bytes, name: str, invoice: str) -> Claim:
    claim = draft(channel, invoice=invoice, role=role, vendor=f"Vendor of {invoice}")
    add_evidence(user(channel, role), services.CLAIM_OWNER, claim.id, io.BytesIO(content), name)
    services.submit(user(channel, role), claim)
    return claim


def _same_evidence_flag(claim: Claim) -> list[int] | None:
    flag = db.session.execute(
        select(ClaimFlag).where(ClaimFlag.claim_id == claim.id, ClaimFlag.flag == Flag.SAME_EVIDENCE_ELSEWHERE)
    ).scalar_one_or_none()
    return flag.related_claims if flag else None


def test_a_photo_forwarded_through_wechat_is_the_same_picture_for_both_claims(
    app: Flask, client: FlaskClient, budgets_set: Channel
) -> None:
    with app.app_context():
        original = _claim_with(budgets_set, "dealer_owner", as_jpeg(shop_photo(1)), "display.jpg", "P-1")
        assert _same_evidence_flag(original) is None
        # The other dealer's copy: forwarded, so 45 % of the size at quality 40; a different file byte for byte.
        forwarded = _claim_with(
            budgets_set, "foreign_owner", as_jpeg(shop_photo(1), quality=40, scale=0.45), "mmexport1.jpg", "P-2"
        )
        assert _same_evidence_flag(forwarded) == [original.id]
        assert _same_evidence_flag(original) == [forwarded.id]  # the earlier claim carries it too
        (match,) = services.matching_evidence(original)
        assert match.other_owner_id == forwarded.id and 0 < match.distance <= NEAR_PICTURE_DISTANCE
        # Near-misses: another scene of the same kind, by either dealer, flags nothing.
        other_scene = _claim_with(budgets_set, "dealer_owner", as_jpeg(shop_photo(2)), "booth.jpg", "P-3")
        assert _same_evidence_flag(other_scene) is None
        db.session.commit()
        ids = original.id, forwarded.id, match.evidence_id, match.other_evidence_id, match.distance
    log_in(client, budgets_set.emails["admin"])
    page = client.get(f"/console/claims/{ids[0]}").get_data(as_text=True)
    assert "The matching evidence" in page
    assert f"/evidence/{ids[2]}/preview" in page and f"/evidence/{ids[3]}/preview" in page
    assert f"Near-duplicate: {ids[4]} bit" in page
    # The manager of the own dealer does not see the foreign dealer's file, only that it exists.
    manager = app.test_client()
    log_in(manager, budgets_set.emails["manager"])
    page = manager.get(f"/console/claims/{ids[0]}").get_data(as_text=True)
    assert f"/evidence/{ids[3]}/preview" not in page and "Not shown: another portfolio" in page


def test_a_pdf_saved_again_with_other_metadata_is_the_same_document(app: Flask, budgets_set: Channel) -> None:
    with app.app_context():
        invoice = pdf(text="Fapiao 04400000 No 87654321 Total 1000.00", metadata={"/Title": "Invoice"})
        first = _claim_with(budgets_set, "dealer_owner", invoice, "invoice.pdf", "D-1")
        again = resaved_pdf(invoice)
        assert again != invoice
        second = _claim_with(budgets_set, "foreign_owner", again, "invoice (1).pdf", "D-2")
        assert _same_evidence_flag(second) == [first.id] and _same_evidence_flag(first) == [second.id]
        (match,) = services.matching_evidence(second)
        assert match.distance == 0
        # A near-miss: the same layout, another invoice number.
        other = _claim_with(
            budgets_set, "dealer_owner", pdf(text="Fapiao 04400000 No 87654322 Total 1000.00"), "other.pdf", "D-3"
        )
        assert _same_evidence_flag(other) is None


def test_a_draft_files_are_not_compared_until_it_is_submitted(app: Flask, budgets_set: Channel) -> None:
    """A dealer's draft is its own: its picture flags nobody until it is submitted; then both claims carry it."""
    with app.app_context():
        photo = as_jpeg(shop_photo(5))
        waiting = draft(budgets_set, invoice="W-1", role="foreign_owner")
        add_evidence(user(budgets_set, "foreign_owner"), services.CLAIM_OWNER, waiting.id, io.BytesIO(photo), "a.jpg")
        submitted = _claim_with(budgets_set, "dealer_owner", photo, "b.jpg", "W-2")
        assert _same_evidence_flag(submitted) is None
        services.submit(user(budgets_set, "foreign_owner"), waiting)
        assert _same_evidence_flag(waiting) == [submitted.id] and _same_evidence_flag(submitted) == [waiting.id]


@given(st.integers(0, 2**64 - 1), st.sets(st.integers(0, 63), max_size=NEAR_PICTURE_DISTANCE))
def test_two_pictures_within_the_distance_share_a_band(picture: int, flipped: set[int]) -> None:
    """Pigeonhole: flipping at most NEAR_PICTURE_DISTANCE bits leaves one of the BANDS bands untouched, so the
    indexed lookup by band never misses a near-duplicate."""
    near = picture
    for bit in flipped:
        near ^= 1 << bit
    assert distance(picture, near) == len(flipped) == bin(picture ^ near).count("1")
    assert BANDS == NEAR_PICTURE_DISTANCE + 1
    assert any(ours == theirs for ours, theirs in zip(bands_of(picture), bands_of(near), strict=True))
    # The bands cover the 64 bits exactly: put back together they are the hash.
    rebuilt = 0
    for value, width in zip(bands_of(picture), (13, 13, 13, 13, 12), strict=True):
        rebuilt = (rebuilt << width) | value
    assert rebuilt == picture


def test_the_picture_lookup_is_an_index_lookup_per_band(app: Flask, budgets_set: Channel) -> None:
    """The plan of the band lookup uses the band indexes, never a scan of every stored picture."""
    with app.app_context():
        claim = _claim_with(budgets_set, "dealer_owner", as_jpeg(shop_photo(7)), "x.jpg", "I-1")
        bands = [f"band{band} = {value}" for band, value in enumerate(bands_of(12345))]
        where = " OR ".join(bands)
        dialect = db.session.get_bind().dialect.name
        if dialect == "sqlite":
            plan = " ".join(
                str(row[-1])
                for row in db.session.execute(
                    sa.text(f"EXPLAIN QUERY PLAN SELECT evidence_id FROM evidence_pictures WHERE {where}")  # noqa: S608
                )
            )
            assert all(f"ix_evidence_pictures_band{band}" in plan for band in range(BANDS)), plan
        else:
            db.session.execute(sa.text("SET LOCAL enable_seqscan = off"))
            plan = " ".join(
                str(row[0])
                for row in db.session.execute(
                    sa.text(f"EXPLAIN SELECT evidence_id FROM evidence_pictures WHERE {where}")  # noqa: S608
                )
            )
            assert all(f"ix_evidence_pictures_band{band}" in plan for band in range(BANDS)), plan
        assert same_evidence(services.CLAIM_OWNER, claim.id) == []
        assert db.session.execute(select(sa.func.count()).select_from(EvidencePicture)).scalar_one() >= 1


def test_files_stored_before_fingerprints_are_fingerprinted_once(app: Flask, budgets_set: Channel) -> None:
    """`flask fingerprint-evidence` after upgrading: the old photos get their hashes (a missing file is passed
    over), the same picture is then found between them, and a second run has nothing left to do."""
    with app.app_context():
        owner = user(budgets_set, "dealer_owner")
        # The channel's own files, stored by the factories without fingerprints, are old files too.
        earlier = db.session.execute(
            select(sa.func.count())
            .select_from(Evidence)
            .where(Evidence.content_digest.is_(None), ~sa.exists().where(EvidencePicture.evidence_id == Evidence.id))
        ).scalar_one()
        claims = [draft(budgets_set, invoice=f"OLD-{number}") for number in range(3)]
        photos = [as_jpeg(shop_photo(21)), as_jpeg(shop_photo(21), quality=50, scale=0.5), None]
        for claim, photo in zip(claims, photos, strict=True):
            key = f"claim/{claim.id:032x}"
            if photo is not None:
                storage_of(current_app).put(key, photo, "image/jpeg")
            db.session.add(
                Evidence(
                    owner_type=services.CLAIM_OWNER,
                    owner_id=claim.id,
                    original_name="old.jpg",
                    storage_key=key,
                    content_type="image/jpeg",
                    size=len(photo or b""),
                    sha256=f"{claim.id:064x}",
                    uploaded_by_id=owner.id,
                )
            )
        db.session.commit()
        claim_ids = [claim.id for claim in claims]
    runner = app.test_cli_runner()
    assert runner.invoke(args=["fingerprint-evidence"]).output.strip() == f"fingerprinted {earlier + 2} files"
    assert runner.invoke(args=["fingerprint-evidence"]).output.strip() == "fingerprinted 0 files"
    with app.app_context():
        (match,) = same_evidence(services.CLAIM_OWNER, claim_ids[0])
        assert match.other_owner_id == claim_ids[1] and match.distance <= NEAR_PICTURE_DISTANCE
