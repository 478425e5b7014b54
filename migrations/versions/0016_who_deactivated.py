"""users: who deactivated an account, in which role, when and why

An administrator's deactivation outranks a dealer owner's: an owner may undo only an owner's deactivation. Accounts
deactivated before this revision get their deactivator from the audit trail (the latest "user.deactivated" event,
or an administrator's "user.updated" that turned active off).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 12:00:00

"""
from alembic import op
import sqlalchemy as sa

import portal.types


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

ROLES = ('dealer', 'manager', 'mediator', 'admin')


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deactivated_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('deactivated_by_role', sa.Enum(*ROLES, name='userrole', native_enum=False,
                                                                     length=32), nullable=True))
        batch_op.add_column(sa.Column('deactivated_at', portal.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('deactivation_reason', sa.String(length=300), server_default='',
                                      nullable=False))
        batch_op.create_foreign_key(batch_op.f('fk_users_deactivated_by_id_users'), 'users', ['deactivated_by_id'],
                                    ['id'])
    _backfill()


def _backfill():
    connection = op.get_bind()
    users = sa.table('users', sa.column('id', sa.Integer), sa.column('active', sa.Boolean),
                     sa.column('role', sa.String), sa.column('deactivated_by_id', sa.Integer),
                     sa.column('deactivated_by_role', sa.String),
                     sa.column('deactivated_at', portal.types.UTCDateTime()))
    events = sa.table('audit_events', sa.column('id', sa.Integer), sa.column('action', sa.String),
                      sa.column('actor_id', sa.Integer), sa.column('subject_type', sa.String),
                      sa.column('subject_id', sa.Integer), sa.column('details', sa.JSON),
                      sa.column('occurred_at', portal.types.UTCDateTime()))
    roles = dict(connection.execute(sa.select(users.c.id, users.c.role)).all())
    inactive = connection.execute(sa.select(users.c.id).where(users.c.active.is_(False))).scalars().all()
    for user_id in inactive:
        rows = connection.execute(
            sa.select(events.c.action, events.c.actor_id, events.c.details, events.c.occurred_at)
            .where(events.c.subject_type == 'user', events.c.subject_id == user_id,
                   events.c.action.in_(('user.deactivated', 'user.updated')))
            .order_by(events.c.id.desc())
        ).all()
        for action, actor_id, details, occurred_at in rows:
            turned_off = action == 'user.deactivated' or (
                isinstance(details, dict) and (details.get('after') or {}).get('active') is False
                and (details.get('before') or {}).get('active') is True
            )
            if turned_off and actor_id in roles:
                connection.execute(users.update().where(users.c.id == user_id).values(
                    deactivated_by_id=actor_id, deactivated_by_role=roles[actor_id], deactivated_at=occurred_at))
                break


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_users_deactivated_by_id_users'), type_='foreignkey')
        batch_op.drop_column('deactivation_reason')
        batch_op.drop_column('deactivated_at')
        batch_op.drop_column('deactivated_by_role')
        batch_op.drop_column('deactivated_by_id')
