"""A mediator's own queue read in its order: disputes by mediator, due day and id (the index on the mediator alone
is its prefix, and goes).

Revision ID: 0037
Revises: 0036
Create Date: 2026-12-07 10:20:39.705583

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0037'
down_revision = '0036'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('disputes', schema=None) as batch_op:
        batch_op.drop_index('ix_disputes_mediator_id')
        batch_op.create_index('ix_disputes_mediator_due', ['mediator_id', 'due_at', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('disputes', schema=None) as batch_op:
        batch_op.drop_index('ix_disputes_mediator_due')
        batch_op.create_index('ix_disputes_mediator_id', ['mediator_id'], unique=False)
