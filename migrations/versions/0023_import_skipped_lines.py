"""sales imports: the lines a check skipped on purpose (a title above the header, a total row), and what the
check found per dealer

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-05 17:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('sales_imports') as batch:
        batch.add_column(sa.Column('skipped', sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch.add_column(sa.Column('dealer_totals', sa.JSON(), nullable=False, server_default=sa.text("'[]'")))


def downgrade():
    with op.batch_alter_table('sales_imports') as batch:
        batch.drop_column('dealer_totals')
        batch.drop_column('skipped')
