"""Indexes for start pages: the mediation queues and their counts, and a manager's claim backlog, read one index
alone; a dealer's page counts the disputes waiting for its answer.

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-07 06:53:19.548528

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0036'
down_revision = '0035'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.drop_index('ix_claims_dealer_status')
        batch_op.create_index(
            'ix_claims_dealer_status', ['dealer_id', 'status', 'submission_count', 'submitted_at'], unique=False
        )
    with op.batch_alter_table('disputes', schema=None) as batch_op:
        batch_op.create_index('ix_disputes_awaiting_dealer', ['awaiting_dealer_id', 'awaiting_until'], unique=False)
        batch_op.create_index('ix_disputes_status_mediator_due', ['status', 'mediator_id', 'due_at'], unique=False)


def downgrade():
    with op.batch_alter_table('disputes', schema=None) as batch_op:
        batch_op.drop_index('ix_disputes_status_mediator_due')
        batch_op.drop_index('ix_disputes_awaiting_dealer')
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.drop_index('ix_claims_dealer_status')
        batch_op.create_index('ix_claims_dealer_status', ['dealer_id', 'status'], unique=False)
