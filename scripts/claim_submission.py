"""Part of `make bench`: a dealer submits a claim with a photo on the scale data (300,000 claims, each with a photo's
perceptual hash), timed in the application: the upload (checked, re-encoded, hashed, its QR code looked for, stored)
and the submission (checks, budget lock, every flag: the same picture among all photos by band, the same invoice,
split claims, budget rush, flags added to the claims it relates to) with their commits. Prints JSON.

Run by scripts/bench.py in a subprocess with the benchmark's environment (DATABASE_URL).
"""

from __future__ import annotations

import io
import json
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from portal import create_app
from portal.accounts.models import User
from portal.claims import services
from portal.claims.models import ActivityType
from portal.dates import company_today
from portal.dealers.services import current_period
from portal.evidence.models import EvidencePicture
from portal.evidence.services import add_evidence
from portal.extensions import db
from portal.scale import add_claim_photos

ROUNDS = 15
TARGET_MS = 300


def shop_photo(seed: int) -> bytes:
    """A 12-megapixel-class phone photo of a display, as a dealer takes it (4:3, JPEG quality 90)."""
    chooser = random.Random(seed)  # noqa: S311 - benchmark data
    image = Image.new("RGB", (2000, 1500), tuple(chooser.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(60):
        left, top = chooser.randrange(2000), chooser.randrange(1500)
        box = (left, top, left + chooser.randrange(50, 700), top + chooser.randrange(50, 500))
        draw.ellipse(box, fill=tuple(chooser.randrange(256) for _ in range(3)))
    buffer = io.BytesIO()
    image.filter(ImageFilter.GaussianBlur(3)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def main() -> int:
    app = create_app()
    with app.app_context():
        if db.session.execute(select(func.count()).select_from(EvidencePicture)).scalar_one() < 100_000:
            add_claim_photos(print)
        pictures = db.session.execute(select(func.count()).select_from(EvidencePicture)).scalar_one()
        owner = db.session.execute(select(User).where(User.email == "dealer@demo.test")).scalar_one()
        period = current_period()
        kind = db.session.execute(select(ActivityType).where(~ActivityType.needs_pre_approval)).scalars().first()
        assert period is not None and kind is not None
        day = max(period.starts_on, company_today() - timedelta(days=1))
        photos = [shop_photo(seed) for seed in range(ROUNDS + 1)]  # the first warms the libraries up, not counted
        db.session.commit()
        uploads, submissions = [], []
        for number, photo in enumerate(photos):
            claim = services.create_draft(
                owner,
                period,
                services.ClaimInput(
                    activity_type_id=kind.id,
                    title=f"Bench display {number}",
                    description="",
                    activity_start=day,
                    activity_end=day,
                    vendor=f"Bench vendor {random.randrange(10**9)}",  # noqa: S311
                    vendor_tax_id="",
                    invoice_number=f"BENCH{random.randrange(10**12)}",  # noqa: S311
                    amount=12_300,
                ),
            )
            db.session.commit()
            started = time.perf_counter()
            add_evidence(owner, services.CLAIM_OWNER, claim.id, io.BytesIO(photo), "IMG_2041.jpg")
            db.session.commit()
            uploaded = time.perf_counter()
            services.submit(owner, claim)
            db.session.commit()
            done = time.perf_counter()
            uploads.append((uploaded - started) * 1000)
            submissions.append((done - uploaded) * 1000)
        uploads, submissions = uploads[1:], submissions[1:]
        totals = sorted(upload + submission for upload, submission in zip(uploads, submissions, strict=True))
        report = {
            "photos_compared_with": pictures,
            "rounds": ROUNDS,
            "upload_ms_median": round(statistics.median(uploads), 1),
            "submit_ms_median": round(statistics.median(submissions), 1),
            "total_ms_median": round(statistics.median(totals), 1),
            "total_ms_max": round(totals[-1], 1),
            "target_ms": TARGET_MS,
            "meets_target": totals[-1] < TARGET_MS,
        }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
