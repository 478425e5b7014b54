"""rebates: the dealer's account (append-only ledger entries); final and paid statements carried into it

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 14:10:00

Each final or paid statement becomes its entries: the rebate, each penalty deducted (one per violation, so an
overturn later gives back exactly that one), each adjustment, and for a paid statement the payment. Statements
get the balance brought forward and the balance carried, computed period by period per dealer.
"""
import datetime

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

COUNTING = ('confirmed', 'appealed', 'upheld')  # violation statuses whose penalty a statement deducts (as of 0020)


def upgrade():
    op.create_table(
        'ledger_entries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('dealer_id', sa.Integer(), nullable=False),
        sa.Column('period_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('amount', sa.BigInteger(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('booked_on', sa.Date(), nullable=False),
        sa.Column('source', sa.String(length=64), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('reverses_id', sa.Integer(), nullable=True),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_ledger_entries_created_by_id_users')),
        sa.ForeignKeyConstraint(['dealer_id'], ['dealers.id'], name=op.f('fk_ledger_entries_dealer_id_dealers')),
        sa.ForeignKeyConstraint(['period_id'], ['periods.id'], name=op.f('fk_ledger_entries_period_id_periods')),
        sa.ForeignKeyConstraint(
            ['reverses_id'], ['ledger_entries.id'], name=op.f('fk_ledger_entries_reverses_id_ledger_entries')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_entries')),
        sa.UniqueConstraint('reverses_id', name=op.f('uq_ledger_entries_reverses_id')),
    )
    op.create_index('ix_ledger_entries_dealer_booked', 'ledger_entries', ['dealer_id', 'booked_on'], unique=False)
    op.create_index('ix_ledger_entries_dealer_period', 'ledger_entries', ['dealer_id', 'period_id'], unique=False)
    op.create_index(op.f('ix_ledger_entries_period_id'), 'ledger_entries', ['period_id'], unique=False)
    with op.batch_alter_table('rebate_statements') as batch:
        batch.add_column(sa.Column('opening_balance', sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column('closing_balance', sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column('paid_amount', sa.BigInteger(), nullable=True))
    _carry_statements_into_the_ledger()


def _carry_statements_into_the_ledger():
    bind = op.get_bind()
    now = datetime.datetime.now(datetime.UTC)
    statements = sa.table(
        'rebate_statements',
        sa.column('id', sa.Integer), sa.column('dealer_id', sa.Integer), sa.column('period_id', sa.Integer),
        sa.column('status', sa.String), sa.column('currency', sa.String), sa.column('rebate', sa.BigInteger),
        sa.column('penalties', sa.BigInteger), sa.column('adjustments', sa.BigInteger),
        sa.column('net_payable', sa.BigInteger), sa.column('finalised_at', sa.DateTime(timezone=True)),
        sa.column('paid_at', sa.DateTime(timezone=True)), sa.column('paid_reference', sa.String),
        sa.column('paid_by_id', sa.Integer), sa.column('opening_balance', sa.BigInteger),
        sa.column('closing_balance', sa.BigInteger), sa.column('paid_amount', sa.BigInteger),
    )
    periods = sa.table('periods', sa.column('id', sa.Integer), sa.column('starts_on', sa.Date),
                       sa.column('ends_on', sa.Date))
    violations = sa.table('violations', sa.column('id', sa.Integer), sa.column('dealer_id', sa.Integer),
                          sa.column('booked_period_id', sa.Integer), sa.column('status', sa.String),
                          sa.column('penalty', sa.BigInteger))
    adjustments = sa.table('rebate_adjustments', sa.column('id', sa.Integer), sa.column('dealer_id', sa.Integer),
                           sa.column('booked_period_id', sa.Integer), sa.column('kind', sa.String),
                           sa.column('amount', sa.BigInteger), sa.column('note', sa.Text),
                           sa.column('source', sa.String))
    entries = sa.table(
        'ledger_entries',
        sa.column('dealer_id', sa.Integer), sa.column('period_id', sa.Integer), sa.column('kind', sa.String),
        sa.column('amount', sa.BigInteger), sa.column('currency', sa.String), sa.column('booked_on', sa.Date),
        sa.column('source', sa.String), sa.column('note', sa.Text), sa.column('created_by_id', sa.Integer),
        sa.column('created_at', sa.DateTime(timezone=True)),
    )
    rows = bind.execute(
        sa.select(statements, periods.c.starts_on, periods.c.ends_on)
        .join(periods, periods.c.id == statements.c.period_id)
        .where(statements.c.status.in_(('final', 'paid')))
        .order_by(statements.c.dealer_id, periods.c.starts_on)
    ).mappings().all()
    balance = {}
    new_entries = []
    for row in rows:
        closed_on = row['finalised_at'].date() if row['finalised_at'] else row['ends_on']

        def add(kind, amount, source, note='', booked_on=closed_on, by=None, row=row):
            new_entries.append({
                'dealer_id': row['dealer_id'], 'period_id': row['period_id'], 'kind': kind, 'amount': amount,
                'currency': row['currency'], 'booked_on': booked_on, 'source': source, 'note': note,
                'created_by_id': by, 'created_at': now,
            })

        if row['rebate']:
            add('rebate', row['rebate'], f"statement:{row['id']}")
        penalised = bind.execute(
            sa.select(violations.c.id, violations.c.penalty).where(
                violations.c.dealer_id == row['dealer_id'], violations.c.booked_period_id == row['period_id'],
                violations.c.status.in_(COUNTING), violations.c.penalty > 0,
            ).order_by(violations.c.id)
        ).all()
        if sum(penalty for _id, penalty in penalised) == row['penalties']:
            for violation_id, penalty in penalised:
                add('penalty', -penalty, f"violation:{violation_id}")
        elif row['penalties']:  # the violations changed since the statement froze: its figure stands
            add('penalty', -row['penalties'], f"statement-penalties:{row['id']}")
        adjusted = bind.execute(
            sa.select(adjustments).where(
                adjustments.c.dealer_id == row['dealer_id'], adjustments.c.booked_period_id == row['period_id']
            ).order_by(adjustments.c.id)
        ).mappings().all()
        if sum(adjustment['amount'] for adjustment in adjusted) == row['adjustments']:
            for adjustment in adjusted:
                kind = 'refund' if adjustment['kind'] == 'penalty_overturned' else 'adjustment'
                add(kind, adjustment['amount'], adjustment['source'] or f"adjustment:{adjustment['id']}",
                    adjustment['note'] or '')
        elif row['adjustments']:
            add('adjustment', row['adjustments'], f"statement-adjustments:{row['id']}")
        opening = balance.get(row['dealer_id'], 0)
        closing = opening + row['net_payable']
        paid_amount = None
        if row['status'] == 'paid':
            paid_amount = max(0, row['net_payable'])
            if paid_amount:
                paid_on = row['paid_at'].date() if row['paid_at'] else closed_on
                add('payment', -paid_amount, f"payment:{row['id']}", row['paid_reference'] or '', paid_on,
                    row['paid_by_id'])
        balance[row['dealer_id']] = closing - (paid_amount or 0)
        bind.execute(
            statements.update().where(statements.c.id == row['id']).values(
                opening_balance=opening, closing_balance=closing, paid_amount=paid_amount
            )
        )
    if new_entries:
        bind.execute(entries.insert(), new_entries)


def downgrade():
    with op.batch_alter_table('rebate_statements') as batch:
        batch.drop_column('paid_amount')
        batch.drop_column('closing_balance')
        batch.drop_column('opening_balance')
    op.drop_index(op.f('ix_ledger_entries_period_id'), table_name='ledger_entries')
    op.drop_index('ix_ledger_entries_dealer_period', table_name='ledger_entries')
    op.drop_index('ix_ledger_entries_dealer_booked', table_name='ledger_entries')
    op.drop_table('ledger_entries')
