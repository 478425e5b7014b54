"""page generations: one counter per dealer, per user, per topic and one channel-wide, in place of the single
counter every write raised, so a write makes stale only the cached pages that can show it

Revision ID: 0035
Revises: 0034
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0035'
down_revision = '0034'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('page_generations',
    sa.Column('scope', sa.String(length=40), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('scope', name=op.f('pk_page_generations'))
    )
    op.drop_table('data_generation')


def downgrade():
    generation = op.create_table('data_generation',
    sa.Column('id', sa.INTEGER(), nullable=False),
    sa.Column('value', sa.BIGINT(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_data_generation'))
    )
    op.bulk_insert(generation, [{'id': 1, 'value': 0}])
    op.drop_table('page_generations')
