"""performance: the data generation behind the page cache, the index of a manager's claim queue, sales files in a
table of their own

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 06:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    generation = op.create_table('data_generation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_data_generation'))
    )
    op.bulk_insert(generation, [{'id': 1, 'value': 0}])
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.create_index('ix_claims_dealer_status', ['dealer_id', 'status'], unique=False)

    op.create_table('sales_import_files',
    sa.Column('import_id', sa.Integer(), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['import_id'], ['sales_imports.id'], name=op.f('fk_sales_import_files_import_id_sales_imports'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('import_id', name=op.f('pk_sales_import_files'))
    )
    op.execute('INSERT INTO sales_import_files (import_id, content) SELECT id, content FROM sales_imports')
    with op.batch_alter_table('sales_imports', schema=None) as batch_op:
        batch_op.drop_column('content')


def downgrade():
    with op.batch_alter_table('sales_imports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('content', sa.LargeBinary(), nullable=False, server_default=''))
    op.execute('UPDATE sales_imports SET content = (SELECT content FROM sales_import_files '
               'WHERE sales_import_files.import_id = sales_imports.id)')
    op.drop_table('sales_import_files')
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.drop_index('ix_claims_dealer_status')
    op.drop_table('data_generation')
