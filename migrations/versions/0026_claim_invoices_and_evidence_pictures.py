"""claims: the fapiao's fields, invoice numbers as compared (normalised), the vendor as compared, what a waiting
claim holds of its budget, the first approver of every approval; evidence: a PDF's content digest, the QR code read
from a file, and photos' perceptual hashes in indexed bands

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06 01:00:00

"""
import re
import unicodedata

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None

PENDING = ("submitted", "needs_info")
APPROVED = ("approved", "partially_approved", "paid")


def _folded(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").strip().upper()


NUMBER_PREFIX = re.compile(r"^(NO|N°|#)(?=[.:\s\d])[.:\s]*", re.IGNORECASE)


def _number(text: str) -> str:
    """As invoices.normalised_number for an invoice of no stated type: letters and digits, no leading "No."."""
    return "".join(character for character in NUMBER_PREFIX.sub("", _folded(text)) if character.isalnum())[:64]


def _vendor_key(tax_id: str, name: str) -> str:
    """As invoices.vendor_key."""
    if _folded(tax_id):
        return "id:" + "".join(character for character in _folded(tax_id) if character.isalnum())
    key = "".join(character for character in _folded(name) if character.isalnum())
    return ("name:" + key)[:200] if key else ""


def upgrade():
    with op.batch_alter_table('claims') as batch:
        batch.add_column(sa.Column('vendor_key', sa.String(length=200), nullable=False, server_default=''))
        batch.add_column(sa.Column('invoice_type', sa.String(length=16), nullable=False, server_default=''))
        batch.add_column(sa.Column('invoice_code', sa.String(length=20), nullable=False, server_default=''))
        batch.add_column(sa.Column('invoice_date', sa.Date(), nullable=True))
        batch.add_column(sa.Column('invoice_amount_before_tax', sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column('invoice_tax', sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column('invoice_total', sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column('invoice_read_from_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('budget_held', sa.BigInteger(), nullable=False, server_default='0'))
        batch.create_foreign_key(
            op.f('fk_claims_invoice_read_from_id_evidence'), 'evidence', ['invoice_read_from_id'], ['id'],
            ondelete='SET NULL',
        )
        batch.drop_index('ix_claims_invoice')
        batch.create_index('ix_claims_invoice', ['invoice_number', 'invoice_code'], unique=False)
        batch.create_index('ix_claims_dealer_vendor', ['dealer_id', 'vendor_key', 'submitted_at'], unique=False)
        batch.create_index(op.f('ix_claims_first_approver_id'), ['first_approver_id'], unique=False)
    with op.batch_alter_table('evidence') as batch:
        batch.add_column(sa.Column('content_digest', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('qr_text', sa.String(length=400), nullable=False, server_default=''))
        batch.create_index(op.f('ix_evidence_content_digest'), ['content_digest'], unique=False)
    op.create_table(
        'evidence_pictures',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('evidence_id', sa.Integer(), nullable=False),
        sa.Column('picture_hash', sa.BigInteger(), nullable=False),
        *(sa.Column(f'band{band}', sa.Integer(), nullable=False) for band in range(5)),
        sa.ForeignKeyConstraint(
            ['evidence_id'], ['evidence.id'], name=op.f('fk_evidence_pictures_evidence_id_evidence'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_evidence_pictures')),
    )
    op.create_index(op.f('ix_evidence_pictures_evidence_id'), 'evidence_pictures', ['evidence_id'], unique=False)
    for band in range(5):
        op.create_index(f'ix_evidence_pictures_band{band}', 'evidence_pictures', [f'band{band}'], unique=False)

    connection = op.get_bind()
    claims = sa.table(
        'claims',
        sa.column('id', sa.Integer), sa.column('invoice_number', sa.String), sa.column('vendor', sa.String),
        sa.column('vendor_tax_id', sa.String), sa.column('vendor_key', sa.String),
    )
    rows = connection.execute(sa.select(claims.c.id, claims.c.invoice_number, claims.c.vendor, claims.c.vendor_tax_id))
    changes = [
        {"claim_id": claim_id, "number": _number(number), "key": _vendor_key(tax_id, vendor)}
        for claim_id, number, vendor, tax_id in rows
    ]
    if changes:
        connection.execute(
            claims.update()
            .where(claims.c.id == sa.bindparam("claim_id"))
            .values(invoice_number=sa.bindparam("number"), vendor_key=sa.bindparam("key")),
            changes,
        )
    # What waiting claims hold: what they asked (what the first approver proposed, at the second step).
    op.execute(
        "UPDATE claims SET budget_held = amount_requested WHERE status IN ('submitted', 'needs_info')"
    )
    op.execute(
        "UPDATE claims SET budget_held = COALESCE(amount_approved, amount_requested) "
        "WHERE status = 'awaiting_second_approval'"
    )
    # Who approved at the first step: the first reviewer to move the claim to an approval or to the second step.
    op.execute(
        "UPDATE claims SET first_approver_id = (SELECT e.actor_id FROM claim_events e WHERE e.claim_id = claims.id "
        "AND e.to_status IN ('approved', 'partially_approved', 'awaiting_second_approval') ORDER BY e.id LIMIT 1) "
        "WHERE first_approver_id IS NULL AND status IN ('approved', 'partially_approved', 'paid')"
    )


def downgrade():
    op.drop_table('evidence_pictures')
    with op.batch_alter_table('evidence') as batch:
        batch.drop_index(op.f('ix_evidence_content_digest'))
        batch.drop_column('qr_text')
        batch.drop_column('content_digest')
    with op.batch_alter_table('claims') as batch:
        batch.drop_index(op.f('ix_claims_first_approver_id'))
        batch.drop_index('ix_claims_dealer_vendor')
        batch.drop_index('ix_claims_invoice')
        batch.create_index('ix_claims_invoice', ['vendor_tax_id', 'invoice_number'], unique=False)
        batch.drop_constraint(op.f('fk_claims_invoice_read_from_id_evidence'), type_='foreignkey')
        for column in (
            'budget_held', 'invoice_read_from_id', 'invoice_total', 'invoice_tax', 'invoice_amount_before_tax',
            'invoice_date', 'invoice_code', 'invoice_type', 'vendor_key',
        ):
            batch.drop_column(column)
