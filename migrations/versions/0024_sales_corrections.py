"""sales: credit notes, corrections and voids as added lines (revisions and reversals, invoices compared by a
trimmed upper-case key, a line number per invoice line); imports voided, their number convention, sheet and
conflicts; the column choices a manager made

Existing lines whose invoice numbers differed only in case were all counted; they stay counted (each keeps its own
line number, the negative of its id) so that no statement's money changes under anyone's feet.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-05 19:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('sales_lines') as batch:
        batch.add_column(sa.Column('invoice_key', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('line_no', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('revision', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('corrects_invoice', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('reverses_id', sa.Integer(), nullable=True))
    op.execute("UPDATE sales_lines SET invoice_key = UPPER(TRIM(invoice_ref))")
    op.execute(
        "UPDATE sales_lines SET line_no = -id WHERE id NOT IN "
        "(SELECT MIN(id) FROM sales_lines GROUP BY dealer_id, invoice_key)"
    )
    with op.batch_alter_table('sales_lines') as batch:
        batch.alter_column('invoice_key', existing_type=sa.String(length=64), nullable=False)
        batch.drop_constraint('uq_sales_lines_dealer_id', type_='unique')
        batch.create_foreign_key(
            op.f('fk_sales_lines_reverses_id_sales_lines'), 'sales_lines', ['reverses_id'], ['id']
        )
    op.create_index(
        'uq_sales_lines_invoice', 'sales_lines', ['dealer_id', 'invoice_key', 'line_no', 'revision'], unique=True
    )
    op.create_index(
        'uq_sales_lines_reverses',
        'sales_lines',
        ['reverses_id'],
        unique=True,
        sqlite_where=sa.text('reverses_id IS NOT NULL'),
        postgresql_where=sa.text('reverses_id IS NOT NULL'),
    )
    op.create_index(
        'ix_sales_lines_corrects',
        'sales_lines',
        ['dealer_id', 'corrects_invoice'],
        unique=False,
        sqlite_where=sa.text('corrects_invoice IS NOT NULL'),
        postgresql_where=sa.text('corrects_invoice IS NOT NULL'),
    )
    with op.batch_alter_table('sales_imports') as batch:
        batch.add_column(sa.Column('number_format', sa.String(length=8), nullable=False, server_default=''))
        batch.add_column(sa.Column('sheet', sa.String(length=100), nullable=False, server_default=''))
        batch.add_column(sa.Column('return_rows', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('conflicts', sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch.add_column(sa.Column('conflict_count', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('voided_by_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('void_reason', sa.Text(), nullable=False, server_default=''))
        batch.add_column(sa.Column('phase', sa.String(length=16), nullable=False, server_default=''))
        batch.create_foreign_key(op.f('fk_sales_imports_voided_by_id_users'), 'users', ['voided_by_id'], ['id'])
    op.create_table(
        'import_column_choices',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('header', sa.String(length=120), nullable=False),
        sa.Column('field', sa.String(length=32), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['user_id'], ['users.id'], name=op.f('fk_import_column_choices_user_id_users'), ondelete='CASCADE'
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_import_column_choices')),
        sa.UniqueConstraint('user_id', 'header', name=op.f('uq_import_column_choices_user_id')),
    )


def downgrade():
    op.drop_table('import_column_choices')
    with op.batch_alter_table('sales_imports') as batch:
        batch.drop_constraint(op.f('fk_sales_imports_voided_by_id_users'), type_='foreignkey')
        for column in (
            'phase', 'void_reason', 'voided_by_id', 'voided_at', 'conflict_count', 'conflicts', 'return_rows', 'sheet',
            'number_format',
        ):
            batch.drop_column(column)
    op.drop_index('ix_sales_lines_corrects', table_name='sales_lines')
    op.drop_index('uq_sales_lines_reverses', table_name='sales_lines')
    op.drop_index('uq_sales_lines_invoice', table_name='sales_lines')
    with op.batch_alter_table('sales_lines') as batch:
        batch.drop_constraint(op.f('fk_sales_lines_reverses_id_sales_lines'), type_='foreignkey')
        batch.create_unique_constraint('uq_sales_lines_dealer_id', ['dealer_id', 'invoice_ref'])
        for column in ('reverses_id', 'corrects_invoice', 'revision', 'line_no', 'invoice_key'):
            batch.drop_column(column)
