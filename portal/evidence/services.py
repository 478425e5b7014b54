"""Adding, finding, removing and cleaning up evidence. Each owning area decides who may see and add, through one
permission hook per owner type (register_owner).

The file is stored before its row is written, and removed again if the row cannot be; a crash between the two
leaves at worst a file with no row, which cleanup_orphans deletes after a day. A row without its file never exists.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO, TYPE_CHECKING

from flask import current_app
from sqlalchemy import exists, func, or_, select

from portal.audit.services import record_event
from portal.evidence import previews
from portal.evidence.fingerprints import (
    NEAR_PICTURE_DISTANCE,
    as_signed,
    as_unsigned,
    bands_of,
    distance,
    fingerprint,
)
from portal.evidence.models import Evidence, EvidencePicture
from portal.evidence.storage import storage_of
from portal.evidence.validation import RejectedFile, inspect_upload
from portal.extensions import db
from portal.request_locale import gettext as _
from portal.service_errors import NotFound
from portal.types import utcnow

if TYPE_CHECKING:
    from portal.accounts.models import User


@dataclass(frozen=True)
class OwnerRules:
    can_view: Callable[[User, int], bool]
    can_add: Callable[[User, int], bool]
    can_remove: Callable[[User, Evidence], bool]
    # Called once a file is stored (its fingerprint and QR code known), inside the same transaction: a claim reads
    # the fapiao's QR code into its invoice fields.
    on_added: Callable[[User, Evidence], None] | None = None


_OWNERS: dict[str, OwnerRules] = {}


def register_owner(owner_type: str, rules: OwnerRules) -> None:
    _OWNERS[owner_type] = rules


def owner_rules(owner_type: str) -> OwnerRules:
    """Who may see, add and remove the files of this kind of owner; pages ask it before offering a button."""
    return _OWNERS[owner_type]


_rules = owner_rules


def add_evidence(actor: User, owner_type: str, owner_id: int, stream: IO[bytes], raw_name: str | None) -> Evidence:
    if not _rules(owner_type).can_add(actor, owner_id):
        raise NotFound()
    config = current_app.config
    existing, used = db.session.execute(
        select(func.count(), func.coalesce(func.sum(Evidence.size), 0)).where(
            Evidence.owner_type == owner_type, Evidence.owner_id == owner_id
        )
    ).one()
    if existing >= config["EVIDENCE_MAX_FILES_PER_OBJECT"]:
        raise RejectedFile(_("This already has %(count)s files, the most it can have.", count=existing))
    room = config["EVIDENCE_MAX_BYTES_PER_OBJECT"] - int(used)
    if room <= 0:
        raise RejectedFile(_("The files here already use all the space they may have. Remove one first."))
    clean = inspect_upload(
        stream,
        raw_name,
        max_bytes=config["EVIDENCE_MAX_FILE_BYTES"],
        max_pixels=config["EVIDENCE_MAX_PIXELS"],
    )
    if len(clean.data) > room:
        raise RejectedFile(_("The files here already use all the space they may have. Remove one first."))
    shows = fingerprint(clean.content_type, clean.data)
    key = f"{owner_type}/{uuid.uuid4().hex}"
    storage = storage_of(current_app)
    storage.put(key, clean.data, clean.content_type)
    try:
        evidence = Evidence(
            owner_type=owner_type,
            owner_id=owner_id,
            original_name=clean.display_name,
            storage_key=key,
            content_type=clean.content_type,
            size=len(clean.data),
            sha256=clean.sha256,
            page_count=clean.page_count,
            content_digest=shows.content_digest,
            qr_text=shows.codes[0][:400] if shows.codes else "",
            uploaded_by_id=actor.id,
        )
        db.session.add(evidence)
        db.session.flush()
        _add_pictures(evidence, shows.pictures)
        record_event(
            "evidence.added",
            actor_id=actor.id,
            subject_type=owner_type,
            subject_id=owner_id,
            subject_label=clean.display_name,
            details={"evidence_id": evidence.id, "sha256": clean.sha256, "content_type": clean.content_type},
        )
        db.session.flush()
        if (added := _rules(owner_type).on_added) is not None:
            added(actor, evidence)
    except BaseException:
        storage.delete(key)  # the row could not be written: take the file back
        raise
    return evidence


# What a copy keeps of the file it copies: its name and what was judged of its content when it was uploaded.
COPIED_FACTS = ("original_name", "content_type", "size", "sha256", "page_count", "content_digest", "qr_text")


def copy_evidence(
    actor: User, source_type: str, source_ids: Sequence[int], owner_type: str, owner_id: int
) -> list[Evidence]:
    """Files of other records (a sighting's photos) attached to this one as well (the violation made of them), so
    that whoever may see this record sees them, without seeing the records they came from. The bytes are copied:
    each file has one owner, and removing one copy leaves the other. Up to the record's file limit. The photos'
    fingerprints are not copied: a copy is the same photo by design, never a photo used twice."""
    if not source_ids:
        return []
    if not _rules(owner_type).can_add(actor, owner_id):
        raise NotFound()
    sources = db.session.execute(
        select(Evidence)
        .where(Evidence.owner_type == source_type, Evidence.owner_id.in_(sorted(source_ids)))
        .order_by(Evidence.id)
        .limit(int(current_app.config["EVIDENCE_MAX_FILES_PER_OBJECT"]))
    ).scalars()
    storage = storage_of(current_app)
    copies = []
    for source in sources:
        key = f"{owner_type}/{uuid.uuid4().hex}"
        storage.put(key, read_bytes(source), source.content_type)  # a rollback leaves it to the orphan cleanup
        copy = Evidence(
            owner_type=owner_type,
            owner_id=owner_id,
            storage_key=key,
            uploaded_by_id=actor.id,
            **{column: getattr(source, column) for column in COPIED_FACTS},
        )
        db.session.add(copy)
        copies.append(copy)
    db.session.flush()
    for copy in copies:
        record_event(
            "evidence.copied",
            actor_id=actor.id,
            subject_type=owner_type,
            subject_id=owner_id,
            subject_label=copy.original_name,
            details={"evidence_id": copy.id, "sha256": copy.sha256, "from": source_type},
        )
    return copies


def _add_pictures(evidence: Evidence, pictures: tuple[int, ...]) -> None:
    for picture in pictures:
        bands = {f"band{band}": value for band, value in enumerate(bands_of(picture))}
        db.session.add(EvidencePicture(evidence_id=evidence.id, picture_hash=as_signed(picture), **bands))


def fingerprint_stored(after_id: int = 0, batch: int = 200) -> tuple[int, int]:
    """Fingerprint up to `batch` photos and PDFs stored before fingerprints were kept (no digest, no picture),
    from the id after `after_id`: returns how many got one and the last id looked at (0 when none was left).
    A file whose bytes cannot be read is passed over. Flags of claims already submitted are not recomputed: the
    next submission that matches one adds itself to its flags."""
    found = list(
        db.session.execute(
            select(Evidence)
            .where(
                Evidence.id > after_id,
                or_(Evidence.content_type.startswith("image/"), Evidence.content_type == "application/pdf"),
                Evidence.content_digest.is_(None),
                ~exists().where(EvidencePicture.evidence_id == Evidence.id),
            )
            .order_by(Evidence.id)
            .limit(batch)
        ).scalars()
    )
    done = 0
    for evidence in found:
        try:
            shows = fingerprint(evidence.content_type, read_bytes(evidence))
        except Exception as error:  # a missing or unreadable file is passed over, the others go on
            current_app.logger.warning("evidence %s not fingerprinted: %r", evidence.id, error)
            continue
        evidence.content_digest = shows.content_digest
        evidence.qr_text = shows.codes[0][:400] if shows.codes else evidence.qr_text
        _add_pictures(evidence, shows.pictures)
        done += 1
    db.session.flush()
    return done, found[-1].id if found else 0


@dataclass(frozen=True)
class SameEvidence:
    """A file of another owner that shows what one of ours shows: `distance` 0 for the same bytes or the same PDF
    content, else the bits between two pictures' perceptual hashes."""

    evidence_id: int  # ours
    other_evidence_id: int
    other_owner_id: int
    distance: int


def same_evidence(owner_type: str, owner_id: int) -> list[SameEvidence]:
    """Every file of another owner of this type that is the same file, the same PDF content or a picture within
    NEAR_PICTURE_DISTANCE of one of ours: indexed lookups only (the bands, the digests), at any number of files."""
    # Our files with their pictures, in one query (a file without a picture comes once, with none).
    rows = list(
        db.session.execute(
            select(Evidence.id, Evidence.sha256, Evidence.content_digest, EvidencePicture.picture_hash)
            .outerjoin(EvidencePicture, EvidencePicture.evidence_id == Evidence.id)
            .where(Evidence.owner_type == owner_type, Evidence.owner_id == owner_id)
        )
    )
    if not rows:
        return []
    ours = {(evidence_id, sha, digest) for evidence_id, sha, digest, _picture in rows}
    pictures = [(mine, as_unsigned(stored)) for mine, _sha, _digest, stored in rows if stored is not None]
    found: dict[tuple[int, int], SameEvidence] = {}
    by_sha = {sha: evidence_id for evidence_id, sha, _digest in ours}
    by_digest = {digest: evidence_id for evidence_id, _sha, digest in ours if digest}
    others = select(Evidence.id, Evidence.owner_id, Evidence.sha256, Evidence.content_digest).where(
        Evidence.owner_type == owner_type,
        Evidence.owner_id != owner_id,
        or_(Evidence.sha256.in_(by_sha), Evidence.content_digest.in_(by_digest)),
    )
    for other_id, other_owner, sha, digest in db.session.execute(others):
        mine = by_sha.get(sha) or by_digest[digest or ""]
        found[(mine, other_id)] = SameEvidence(mine, other_id, other_owner, 0)
    if pictures:
        # One query for every picture of ours: each band of each picture, looked up in its own index.
        wanted: dict[int, set[int]] = {}
        for _mine, picture in pictures:
            for band, value in enumerate(bands_of(picture)):
                wanted.setdefault(band, set()).add(value)
        candidates = db.session.execute(
            select(EvidencePicture.evidence_id, EvidencePicture.picture_hash, Evidence.owner_id)
            .join(Evidence, Evidence.id == EvidencePicture.evidence_id)
            .where(
                or_(*(getattr(EvidencePicture, f"band{band}").in_(sorted(values)) for band, values in wanted.items())),
                Evidence.owner_type == owner_type,
                Evidence.owner_id != owner_id,
            )
        )
        for other_id, other_stored, other_owner in candidates:
            other = as_unsigned(other_stored)
            for mine, picture in pictures:
                apart = distance(picture, other)
                known = found.get((mine, other_id))
                if apart <= NEAR_PICTURE_DISTANCE and (known is None or apart < known.distance):
                    found[(mine, other_id)] = SameEvidence(mine, other_id, other_owner, apart)
    return sorted(found.values(), key=lambda same: (same.other_owner_id, same.other_evidence_id))


def evidence_of(owner_type: str, owner_id: int) -> list[Evidence]:
    return list(
        db.session.execute(
            select(Evidence)
            .where(Evidence.owner_type == owner_type, Evidence.owner_id == owner_id)
            .order_by(Evidence.id.desc())
        ).scalars()
    )


def get_viewable(actor: User, evidence_id: int) -> Evidence:
    """404 for a file that does not exist and for one the owner's rules do not show to this user."""
    evidence = db.session.get(Evidence, evidence_id)
    if evidence is None or evidence.owner_type not in _OWNERS:
        raise NotFound()
    if not _rules(evidence.owner_type).can_view(actor, evidence.owner_id):
        raise NotFound()
    return evidence


def read_bytes(evidence: Evidence) -> bytes:
    return storage_of(current_app).read(evidence.storage_key)


def pdf_page_image(evidence: Evidence, page: int) -> bytes | None:
    """A page of a PDF evidence file as a PNG image (None past its last page); files are never changed, so a page
    drawn once is kept by the storage key."""
    if evidence.page_count is not None and not 1 <= page <= evidence.page_count:
        return None
    return previews.page_png(evidence.storage_key, read_bytes(evidence), page)


def remove_evidence(actor: User, evidence: Evidence) -> None:
    """The row goes in this transaction; the bytes go with the orphan cleanup, so a rollback loses nothing."""
    if not _rules(evidence.owner_type).can_remove(actor, evidence):
        raise NotFound()
    record_event(
        "evidence.removed",
        actor_id=actor.id,
        subject_type=evidence.owner_type,
        subject_id=evidence.owner_id,
        subject_label=evidence.original_name,
        details={"evidence_id": evidence.id, "sha256": evidence.sha256},
    )
    db.session.delete(evidence)
    db.session.flush()


def cleanup_orphans(now: datetime | None = None) -> int:
    """Delete stored files that no row refers to and that are older than EVIDENCE_ORPHAN_AGE_HOURS."""
    cutoff = (now or utcnow()) - timedelta(hours=current_app.config["EVIDENCE_ORPHAN_AGE_HOURS"])
    storage = storage_of(current_app)
    old_keys = [key for key, modified in storage.keys_with_times() if modified < cutoff]
    removed = 0
    for start in range(0, len(old_keys), 500):
        batch = old_keys[start : start + 500]
        known = set(db.session.execute(select(Evidence.storage_key).where(Evidence.storage_key.in_(batch))).scalars())
        for key in batch:
            if key not in known:
                storage.delete(key)
                removed += 1
    return removed
