"""integration clients act as their own (service) users; statements and violations say when they last changed;
idempotency keys of pushes; dealers' contact people; the outbox of events and the webhooks that deliver them

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-06 11:00:00

"""
import sqlalchemy as sa
from alembic import op

import portal.types

# revision identifiers, used by Alembic.
revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('dealers') as batch:
        batch.add_column(sa.Column('contacts', sa.JSON(), nullable=True))
    op.execute(sa.text("UPDATE dealers SET contacts = '[]'"))
    with op.batch_alter_table('dealers') as batch:
        batch.alter_column('contacts', existing_type=sa.JSON(), nullable=False)
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('is_service', sa.Boolean(), server_default=sa.false(), nullable=False))
    for table in ('rebate_statements', 'violations'):
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column('updated_at', portal.types.UTCDateTime(timezone=True), nullable=True)
            )
        op.execute(sa.text(f"UPDATE {table} SET updated_at = created_at" if table == 'violations' else
                           f"UPDATE {table} SET updated_at = computed_at"))
        with op.batch_alter_table(table) as batch:
            batch.alter_column('updated_at', existing_type=portal.types.UTCDateTime(timezone=True), nullable=False)
    with op.batch_alter_table('integration_clients') as batch:
        batch.add_column(sa.Column('user_id', sa.Integer(), nullable=True))
    # Clients made before this revision get their own user now.
    connection = op.get_bind()
    clients = connection.execute(sa.text("SELECT id, name, created_at FROM integration_clients")).all()
    for client_id, name, created_at in clients:
        connection.execute(
            sa.text(
                "INSERT INTO users (email, name, password_hash, role, is_senior, timezone, active, session_token, "
                "must_change_password, created_at, two_factor_required, deactivation_reason, is_service) "
                "VALUES (:email, :name, '!', 'admin', false, 'Asia/Shanghai', false, :token, false, :created, "
                "false, '', true)"
            ),
            {"email": f"api-client-{client_id}@integrations.invalid", "name": f"{name} (API)"[:200],
             "token": f"service-{client_id}-{name}"[:64], "created": created_at},
        )
        connection.execute(
            sa.text(
                "UPDATE integration_clients SET user_id = (SELECT id FROM users WHERE email = :email) WHERE id = :id"
            ),
            {"email": f"api-client-{client_id}@integrations.invalid", "id": client_id},
        )
    with op.batch_alter_table('integration_clients') as batch:
        batch.alter_column('user_id', existing_type=sa.Integer(), nullable=False)
        batch.create_unique_constraint(batch.f('uq_integration_clients_user_id'), ['user_id'])
        batch.create_foreign_key('fk_integration_clients_user_id_users', 'users', ['user_id'], ['id'])
    op.create_table(
        'api_idempotency_keys',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('client_id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('operation', sa.String(length=64), nullable=False),
        sa.Column('body_hash', sa.String(length=64), nullable=False),
        sa.Column('status_code', sa.Integer(), nullable=True),
        sa.Column('response', sa.JSON(), nullable=True),
        sa.Column('created_at', portal.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['client_id'], ['integration_clients.id'], name=op.f('fk_api_idempotency_keys_client_id_integration_clients')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_api_idempotency_keys')),
        sa.UniqueConstraint('client_id', 'key', name=op.f('uq_api_idempotency_keys_client_id')),
    )
    op.create_table(
        'outbox_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=40), nullable=False),
        sa.Column('subject_type', sa.String(length=32), nullable=False),
        sa.Column('subject_id', sa.Integer(), nullable=False),
        sa.Column('dealer_id', sa.Integer(), nullable=True),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('occurred_at', portal.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_events')),
    )
    with op.batch_alter_table('outbox_events') as batch:
        batch.create_index(batch.f('ix_outbox_events_kind'), ['kind'], unique=False)
    op.create_table(
        'webhook_subscriptions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('client_id', sa.Integer(), nullable=False),
        sa.Column('url', sa.String(length=500), nullable=False),
        sa.Column('kinds', sa.JSON(), nullable=False),
        sa.Column('secret', sa.String(length=80), nullable=False),
        sa.Column('fanned_out_to', sa.Integer(), nullable=False),
        sa.Column('created_at', portal.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('removed_at', portal.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['client_id'], ['integration_clients.id'], name=op.f('fk_webhook_subscriptions_client_id_integration_clients')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_subscriptions')),
    )
    with op.batch_alter_table('webhook_subscriptions') as batch:
        batch.create_index(batch.f('ix_webhook_subscriptions_client_id'), ['client_id'], unique=False)
    op.create_table(
        'webhook_deliveries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('subscription_id', sa.Integer(), nullable=False),
        sa.Column('event_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.Enum('pending', 'delivered', 'failed', name='deliverystatus', native_enum=False, create_constraint=False, length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', portal.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('last_attempt_at', portal.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('response_code', sa.Integer(), nullable=True),
        sa.Column('error', sa.String(length=300), nullable=False),
        sa.Column('delivered_at', portal.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['event_id'], ['outbox_events.id'], name=op.f('fk_webhook_deliveries_event_id_outbox_events')),
        sa.ForeignKeyConstraint(['subscription_id'], ['webhook_subscriptions.id'], name=op.f('fk_webhook_deliveries_subscription_id_webhook_subscriptions')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_deliveries')),
        sa.UniqueConstraint('subscription_id', 'event_id', name=op.f('uq_webhook_deliveries_subscription_id')),
    )
    with op.batch_alter_table('webhook_deliveries') as batch:
        batch.create_index('ix_webhook_deliveries_due', ['status', 'next_attempt_at'], unique=False)


def downgrade():
    op.drop_table('webhook_deliveries')
    op.drop_table('webhook_subscriptions')
    op.drop_table('outbox_events')
    op.drop_table('api_idempotency_keys')
    with op.batch_alter_table('integration_clients') as batch:
        batch.drop_constraint('fk_integration_clients_user_id_users', type_='foreignkey')
        batch.drop_constraint(batch.f('uq_integration_clients_user_id'), type_='unique')
        batch.drop_column('user_id')
    for table in ('violations', 'rebate_statements'):
        with op.batch_alter_table(table) as batch:
            batch.drop_column('updated_at')
    with op.batch_alter_table('users') as batch:
        batch.drop_column('is_service')
    with op.batch_alter_table('dealers') as batch:
        batch.drop_column('contacts')
