"""notifications: the link as an endpoint and its arguments (built into a URL when shown), old paths converted

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 11:00:00

"""
import re

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

# The paths notifications stored before links were typed, and the routes they name (as of this revision).
KNOWN_PATHS = (
    (r"/dealer/statements/(?P<period_code>[^/]+)", "rebates.dealer_statement", ()),
    (r"/console/sales-imports/(?P<import_id>\d+)", "rebates.sales_import", ("import_id",)),
    (r"/dealer/", "dealers.dealer_home", ()),
    (r"/console/dealers/(?P<code>[^/]+)", "dealers.dealer_detail", ()),
    (r"/dealer/people", "dealers.dealer_people_page", ()),
    (r"/dealer/training", "training.dealer_training", ()),
    (r"/training/sessions/(?P<session_id>\d+)", "training.session_page", ("session_id",)),
    (r"/training/certificates/(?P<number>[^/]+)", "training.certificate", ()),
    (r"/console/violations/(?P<violation_id>\d+)", "disputes.console_violation", ("violation_id",)),
    (r"/dealer/violations/(?P<violation_id>\d+)", "disputes.dealer_violation", ("violation_id",)),
    (r"/disputes/(?P<dispute_id>\d+)", "disputes.dispute_page", ("dispute_id",)),
    (r"/console/pre-approvals", "claims.console_pre_approvals", ()),
    (r"/claims/pre-approvals", "claims.pre_approvals", ()),
    (r"/console/claims/(?P<claim_id>\d+)", "claims.review_page", ("claim_id",)),
    (r"/claims/(?P<claim_id>\d+)", "claims.claim_page", ("claim_id",)),
    (r"/account", "accounts.account", ()),
)


def typed(path):
    for pattern, endpoint, numbers in KNOWN_PATHS:
        found = re.fullmatch(pattern, path or "")
        if found:
            args = {name: int(value) if name in numbers else value for name, value in found.groupdict().items()}
            return endpoint, args
    return None


def path_of(endpoint, args):
    for pattern, known, _numbers in KNOWN_PATHS:
        if known == endpoint:
            return re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda group: str((args or {}).get(group.group(1), "")), pattern)
    return ""


NOTIFICATIONS = sa.table(
    'notifications', sa.column('id', sa.Integer), sa.column('link', sa.String),
    sa.column('link_endpoint', sa.String), sa.column('link_args', sa.JSON),
)


def upgrade():
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('link_endpoint', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('link_args', sa.JSON(), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(sa.select(NOTIFICATIONS.c.id, NOTIFICATIONS.c.link).where(NOTIFICATIONS.c.link != '')).all()
    for row in rows:
        found = typed(row.link)
        if found is not None:
            connection.execute(
                NOTIFICATIONS.update().where(NOTIFICATIONS.c.id == row.id)
                .values(link_endpoint=found[0], link_args=found[1], link='')
            )


def downgrade():
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(NOTIFICATIONS.c.id, NOTIFICATIONS.c.link_endpoint, NOTIFICATIONS.c.link_args)
        .where(NOTIFICATIONS.c.link_endpoint.is_not(None))
    ).all()
    for row in rows:
        connection.execute(
            NOTIFICATIONS.update().where(NOTIFICATIONS.c.id == row.id)
            .values(link=path_of(row.link_endpoint, row.link_args))
        )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_column('link_args')
        batch_op.drop_column('link_endpoint')
