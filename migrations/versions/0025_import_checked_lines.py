"""sales imports: the lines a clean check read, kept for the import after confirmation; two indexes of sales lines
that no query uses dropped (each imported line paid for their upkeep)

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-05 22:10:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'sales_import_checked_lines',
        sa.Column('import_id', sa.Integer(), nullable=False),
        sa.Column('checked_against', sa.String(length=64), nullable=False),
        sa.Column('lines', sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ['import_id'], ['sales_imports.id'],
            name=op.f('fk_sales_import_checked_lines_import_id_sales_imports'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('import_id', name=op.f('pk_sales_import_checked_lines')),
    )
    op.drop_index('ix_sales_lines_dealer_sold_on', table_name='sales_lines')
    op.drop_index('ix_sales_lines_booked_period_id', table_name='sales_lines')


def downgrade():
    op.create_index('ix_sales_lines_booked_period_id', 'sales_lines', ['booked_period_id'], unique=False)
    op.create_index('ix_sales_lines_dealer_sold_on', 'sales_lines', ['dealer_id', 'sold_on'], unique=False)
    op.drop_table('sales_import_checked_lines')
