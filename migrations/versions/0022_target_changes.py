"""rebates: changes of a started period's target, asked with a reason and decided by a senior manager

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05 15:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'target_changes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('dealer_id', sa.Integer(), nullable=False),
        sa.Column('period_id', sa.Integer(), nullable=False),
        sa.Column('old_amount', sa.BigInteger(), nullable=True),
        sa.Column('new_amount', sa.BigInteger(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=32), nullable=False),
        sa.Column('requested_by_id', sa.Integer(), nullable=False),
        sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('decided_by_id', sa.Integer(), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('decision_note', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['dealer_id'], ['dealers.id'], name=op.f('fk_target_changes_dealer_id_dealers')),
        sa.ForeignKeyConstraint(['period_id'], ['periods.id'], name=op.f('fk_target_changes_period_id_periods')),
        sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_target_changes_requested_by_id_users')),
        sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_target_changes_decided_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_target_changes')),
    )
    op.create_index('ix_target_changes_dealer_period', 'target_changes', ['dealer_id', 'period_id'], unique=False)
    op.create_index(op.f('ix_target_changes_status'), 'target_changes', ['status'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_target_changes_status'), table_name='target_changes')
    op.drop_index('ix_target_changes_dealer_period', table_name='target_changes')
    op.drop_table('target_changes')
