"""users: when the owner was last told that someone is guessing the account's password

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 14:00:00

"""
from alembic import op
import sqlalchemy as sa

import portal.types


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('login_warning_at', portal.types.UTCDateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('login_warning_at')
