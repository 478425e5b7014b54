"""periods: who asked for the close and when (a second person confirms it)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 14:30:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('periods') as batch:
        batch.add_column(sa.Column('close_requested_by_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('close_requested_at', sa.DateTime(timezone=True), nullable=True))
        batch.create_foreign_key(
            batch.f('fk_periods_close_requested_by_id_users'), 'users', ['close_requested_by_id'], ['id']
        )


def downgrade():
    with op.batch_alter_table('periods') as batch:
        batch.drop_constraint(batch.f('fk_periods_close_requested_by_id_users'), type_='foreignkey')
        batch.drop_column('close_requested_at')
        batch.drop_column('close_requested_by_id')
