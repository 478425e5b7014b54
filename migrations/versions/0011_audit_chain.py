"""audit chain: events sealed in batches with a hash chain

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 09:40:00

"""
from alembic import op
import sqlalchemy as sa

import portal.types


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('audit_seals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sealed_at', portal.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('first_position', sa.Integer(), nullable=False),
    sa.Column('last_position', sa.Integer(), nullable=False),
    sa.Column('previous_hash', sa.String(length=64), nullable=False),
    sa.Column('chain_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_seals')),
    sa.UniqueConstraint('first_position', name=op.f('uq_audit_seals_first_position'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('chain_position', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('chain_hash', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_audit_events_chain_position'), ['chain_position'])


def downgrade():
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_audit_events_chain_position'), type_='unique')
        batch_op.drop_column('chain_hash')
        batch_op.drop_column('chain_position')
    op.drop_table('audit_seals')
