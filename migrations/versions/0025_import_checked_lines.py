"""sales imports: the lines a clean check read, kept for the import after confirmation; two indexes of sales lines
that no query uses dropped (each imported line paid for their upkeep); on PostgreSQL, a sales line's periods
checked once per statement instead of by two row-by-row foreign keys

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-05 22:10:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


# PostgreSQL: the periods of the lines a statement wrote, checked at once (and locked as a foreign key locks them);
# a period that sales lines name cannot be deleted or renumbered.
STATEMENT_CHECK_SQL = (
    """
    CREATE FUNCTION sales_lines_name_periods() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM 1 FROM periods
        WHERE id IN (SELECT period_id FROM written UNION SELECT booked_period_id FROM written)
        FOR KEY SHARE;
        IF EXISTS (
            SELECT 1 FROM (SELECT period_id FROM written UNION SELECT booked_period_id FROM written) AS named (id)
            WHERE NOT EXISTS (SELECT 1 FROM periods WHERE periods.id = named.id)
        ) THEN
            RAISE EXCEPTION 'a sales line names a period that does not exist'
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        RETURN NULL;
    END $$
    """,
    "CREATE TRIGGER sales_lines_written AFTER INSERT ON sales_lines REFERENCING NEW TABLE AS written "
    "FOR EACH STATEMENT EXECUTE FUNCTION sales_lines_name_periods()",
    "CREATE TRIGGER sales_lines_changed AFTER UPDATE ON sales_lines REFERENCING NEW TABLE AS written "
    "FOR EACH STATEMENT EXECUTE FUNCTION sales_lines_name_periods()",
    """
    CREATE FUNCTION periods_keep_their_sales_lines() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF EXISTS (SELECT 1 FROM sales_lines WHERE period_id = OLD.id)
            OR EXISTS (SELECT 1 FROM sales_lines WHERE booked_period_id = OLD.id) THEN
            RAISE EXCEPTION 'period % has sales lines', OLD.id USING ERRCODE = 'foreign_key_violation';
        END IF;
        IF TG_OP = 'DELETE' THEN
            RETURN OLD;
        END IF;
        RETURN NEW;
    END $$
    """,
    "CREATE TRIGGER periods_removed BEFORE DELETE ON periods "
    "FOR EACH ROW EXECUTE FUNCTION periods_keep_their_sales_lines()",
    "CREATE TRIGGER periods_renumbered BEFORE UPDATE OF id ON periods "
    "FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION periods_keep_their_sales_lines()",
)

STATEMENT_CHECKED = (('fk_sales_lines_period_id_periods', 'period_id'),
                     ('fk_sales_lines_booked_period_id_periods', 'booked_period_id'))


def upgrade():
    op.create_table(
        'sales_import_checked_lines',
        sa.Column('import_id', sa.Integer(), nullable=False),
        sa.Column('checked_against', sa.String(length=64), nullable=False),
        sa.Column('lines', sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ['import_id'], ['sales_imports.id'],
            name=op.f('fk_sales_import_checked_lines_import_id_sales_imports'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('import_id', name=op.f('pk_sales_import_checked_lines')),
    )
    op.drop_index('ix_sales_lines_dealer_sold_on', table_name='sales_lines')
    op.drop_index('ix_sales_lines_booked_period_id', table_name='sales_lines')
    if op.get_bind().dialect.name == 'postgresql':
        for name, _column in STATEMENT_CHECKED:
            op.drop_constraint(name, 'sales_lines', type_='foreignkey')
        for statement in STATEMENT_CHECK_SQL:
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER periods_renumbered ON periods')
        op.execute('DROP TRIGGER periods_removed ON periods')
        op.execute('DROP FUNCTION periods_keep_their_sales_lines()')
        op.execute('DROP TRIGGER sales_lines_changed ON sales_lines')
        op.execute('DROP TRIGGER sales_lines_written ON sales_lines')
        op.execute('DROP FUNCTION sales_lines_name_periods()')
        for name, column in STATEMENT_CHECKED:
            op.create_foreign_key(name, 'sales_lines', 'periods', [column], ['id'])
    op.create_index('ix_sales_lines_booked_period_id', 'sales_lines', ['booked_period_id'], unique=False)
    op.create_index('ix_sales_lines_dealer_sold_on', 'sales_lines', ['dealer_id', 'sold_on'], unique=False)
    op.drop_table('sales_import_checked_lines')
