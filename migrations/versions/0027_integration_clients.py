"""integration clients of the API and their tokens (stored as hashes)

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-06 08:30:00

"""
import sqlalchemy as sa
from alembic import op

import portal.types

# revision identifiers, used by Alembic.
revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'integration_clients',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('scopes', sa.JSON(), nullable=False),
        sa.Column('allowed_networks', sa.JSON(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=False),
        sa.Column('created_at', portal.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('revoked_at', portal.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_used_at', portal.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_used_from', sa.String(length=45), nullable=False),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_integration_clients_created_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_integration_clients')),
        sa.UniqueConstraint('name', name=op.f('uq_integration_clients_name')),
    )
    op.create_table(
        'api_tokens',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('client_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('shown_start', sa.String(length=16), nullable=False),
        sa.Column('created_at', portal.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('expires_at', portal.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['client_id'], ['integration_clients.id'], name=op.f('fk_api_tokens_client_id_integration_clients')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash')),
    )
    with op.batch_alter_table('api_tokens') as batch:
        batch.create_index(batch.f('ix_api_tokens_client_id'), ['client_id'], unique=False)


def downgrade():
    with op.batch_alter_table('api_tokens') as batch:
        batch.drop_index(batch.f('ix_api_tokens_client_id'))
    op.drop_table('api_tokens')
    op.drop_table('integration_clients')
