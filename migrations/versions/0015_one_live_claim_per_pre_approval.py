"""claims: one live claim per pre-approval; a withdrawn or rejected claim frees it again

Until now fund_request_id was unique across all claims, so a second draft naming a pre-approval another claim
used ended in a database error (a 500), and a withdrawn claim held its pre-approval for ever. The uniqueness now
covers only the claims that hold it (every status but withdrawn and rejected).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 11:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

LIVE = "status NOT IN ('rejected', 'withdrawn')"


def upgrade():
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.drop_constraint('uq_claims_fund_request_id', type_='unique')
    op.create_index('uq_claims_live_fund_request', 'claims', ['fund_request_id'], unique=True,
                    sqlite_where=sa.text(LIVE), postgresql_where=sa.text(LIVE))


def downgrade():
    op.drop_index('uq_claims_live_fund_request', table_name='claims')
    # Freed pre-approvals may now be named by two claims; the older links are dropped so the old rule can hold.
    op.execute(
        "UPDATE claims SET fund_request_id = NULL WHERE fund_request_id IS NOT NULL AND status IN "
        "('rejected', 'withdrawn') AND EXISTS (SELECT 1 FROM claims AS other WHERE other.fund_request_id = "
        "claims.fund_request_id AND other.id <> claims.id)"
    )
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_claims_fund_request_id', ['fund_request_id'])
