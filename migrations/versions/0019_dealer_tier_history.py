"""dealers: the tier history (a tier from a day on); every dealer starts with the tier it has, since joining

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 13:40:00

"""
import datetime

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

SINCE_JOINING = datetime.date(2000, 1, 1)


def upgrade():
    op.create_table(
        'dealer_tier_changes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('dealer_id', sa.Integer(), nullable=False),
        sa.Column('tier', sa.String(length=32), nullable=False),
        sa.Column('effective_from', sa.Date(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('changed_by_id', sa.Integer(), nullable=True),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['changed_by_id'], ['users.id'], name=op.f('fk_dealer_tier_changes_changed_by_id_users')),
        sa.ForeignKeyConstraint(['dealer_id'], ['dealers.id'], name=op.f('fk_dealer_tier_changes_dealer_id_dealers')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_dealer_tier_changes')),
        sa.UniqueConstraint('dealer_id', 'effective_from', name=op.f('uq_dealer_tier_changes_dealer_id')),
    )
    op.create_index(op.f('ix_dealer_tier_changes_dealer_id'), 'dealer_tier_changes', ['dealer_id'], unique=False)
    dealers = sa.table('dealers', sa.column('id', sa.Integer), sa.column('tier', sa.String), sa.column('created_at'))
    changes = sa.table(
        'dealer_tier_changes',
        sa.column('dealer_id', sa.Integer),
        sa.column('tier', sa.String),
        sa.column('effective_from', sa.Date),
        sa.column('reason', sa.Text),
        sa.column('recorded_at'),
    )
    op.execute(
        changes.insert().from_select(
            ['dealer_id', 'tier', 'effective_from', 'reason', 'recorded_at'],
            sa.select(
                dealers.c.id,
                dealers.c.tier,
                sa.literal(SINCE_JOINING, sa.Date),
                sa.literal(''),
                dealers.c.created_at,
            ),
        )
    )


def downgrade():
    op.drop_index(op.f('ix_dealer_tier_changes_dealer_id'), table_name='dealer_tier_changes')
    op.drop_table('dealer_tier_changes')
