"""The Alembic migrations build the schema from nothing on both back ends and match the models exactly."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from portal.database import compared_in_schema
from portal.demo import seed_demo
from portal.extensions import db
from portal.types import UTCDateTime, utcnow
from tests.helpers import BACKENDS, build_app, dispose_app, fresh_database_url


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_upgrade_from_empty_to_head_matches_the_models(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    app = build_app(fresh_database_url(backend_name, "migrations", tmp_path_factory))
    with app.app_context():
        upgrade()
        downgrade(revision="base")
        assert sa.inspect(db.engine).get_table_names() == ["alembic_version"]
        upgrade()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={
                    "compare_type": True,
                    "render_as_batch": True,
                    "include_object": compared_in_schema(connection.dialect.name),
                },
            )
            differences = compare_metadata(context, db.metadata)
        tables = set(sa.inspect(db.engine).get_table_names())
    dispose_app(app)
    assert differences == [], f"models and migrations differ: {differences}"
    assert {"users", "dealers", "territories", "periods", "audit_events"} <= tables


NOTIFICATIONS = sa.table(
    "notifications",
    sa.column("id", sa.Integer),
    sa.column("user_id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("params", sa.JSON),
    sa.column("link", sa.String),
    sa.column("created_at", UTCDateTime()),
)


def _one_user(connection: sa.Connection) -> int:
    """A user written with plain SQL, as the schema stood at an older revision; the notifications need one."""
    connection.execute(
        sa.text(
            "INSERT INTO users (email, name, password_hash, role, timezone, active, session_token, "
            "must_change_password, is_senior, created_at, two_factor_required) VALUES ('a@example.test', "
            "'A', 'x', 'dealer', 'UTC', true, 'token', false, false, CURRENT_TIMESTAMP, false)"
        )
    )
    return int(connection.execute(sa.text("SELECT id FROM users")).scalar_one())


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_prefixed_notification_parameters_become_typed_and_back(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Revision 0013 rewrites the amounts and statuses the portal stored as prefixed strings, and only those: a
    title people typed that looks like one stays a string. Downgrading writes the old form back."""
    app = build_app(fresh_database_url(backend_name, "typed_params", tmp_path_factory))
    old = [
        ("claim_submitted", {"dealer": "D", "claim": "money:5:CNY", "amount": "money:123456:CNY"}),
        ("dealer_status_changed", {"dealer": "D", "old": "status:active", "new": "status:suspended", "reason": "r"}),
        ("dispute_resolved", {"title": "status:active", "status": "dispute_status:resolved", "note": "n"}),
        ("violation_confirmed", {"kind": "violation:other", "amount": "money:100:CNY", "until": "2026-12-18"}),
    ]
    with app.app_context():
        upgrade(revision="0012")
        with db.engine.begin() as connection:
            user_id = _one_user(connection)
            rows = [
                {"user_id": user_id, "kind": kind, "params": params, "link": "/", "created_at": utcnow()}
                for kind, params in old
            ]
            connection.execute(NOTIFICATIONS.insert(), rows)

        def stored() -> list[dict[str, object]]:
            with db.engine.connect() as connection:
                return list(
                    connection.execute(sa.select(NOTIFICATIONS.c.params).order_by(NOTIFICATIONS.c.id)).scalars()
                )

        upgrade()
        typed = stored()
        downgrade(revision="0012")
        restored = stored()
    dispose_app(app)
    money = {"type": "money", "amount": 123456, "currency": "CNY"}
    assert typed[0] == {"dealer": "D", "claim": "money:5:CNY", "amount": money}
    assert typed[1]["new"] == {"type": "label", "enum": "DealerStatus", "value": "suspended", "lower": False}
    resolved = {"type": "label", "enum": "DisputeStatus", "value": "resolved", "lower": True}
    assert typed[2] == {"title": "status:active", "note": "n", "status": resolved}
    assert typed[3]["until"] == {"type": "date", "value": "2026-12-18"}
    assert restored == [params for _kind, params in old]


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_this_rounds_migrations_go_down_and_up_again_on_a_database_full_of_data(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """With the demo channel in it (claims with events, users with notifications pointing at them), down to 0012 and
    up to head again: SQLite's table copies must not trip over the rows that point at the copied tables."""

    app = build_app(fresh_database_url(backend_name, "migrations_with_data", tmp_path_factory))
    with app.app_context():
        upgrade()
        seed_demo()
        db.session.commit()
        counts = {
            table: db.session.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: S608
            for table in ("users", "claims", "claim_events", "notifications", "evidence")
        }
        db.session.remove()
        downgrade(revision="0012")
        upgrade()
        after = {
            table: db.session.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: S608
            for table in counts
        }
        db.session.remove()
    dispose_app(app)
    assert after == counts and counts["claim_events"] > 0


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_who_deactivated_an_account_is_found_in_the_audit_trail(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Revision 0016 fills in the deactivator of accounts turned off before it: an owner's "user.deactivated", or an
    administrator's "user.updated" that turned active off (the latest one counts)."""
    app = build_app(fresh_database_url(backend_name, "who_deactivated", tmp_path_factory))
    insert_user = sa.text(
        "INSERT INTO users (email, name, password_hash, role, timezone, active, session_token, must_change_password, "
        "is_senior, created_at, two_factor_required) VALUES (:email, :email, 'x', :role, 'UTC', :active, :email, "
        "false, false, CURRENT_TIMESTAMP, false)"
    )
    events = sa.table(
        "audit_events",
        sa.column("action", sa.String),
        sa.column("actor_id", sa.Integer),
        sa.column("subject_type", sa.String),
        sa.column("subject_id", sa.Integer),
        sa.column("subject_label", sa.String),
        sa.column("details", sa.JSON),
        sa.column("occurred_at", UTCDateTime()),
    )
    with app.app_context():
        upgrade(revision="0015")
        with db.engine.begin() as connection:
            for email, role, active in (
                ("admin@x.test", "admin", True),
                ("owner@x.test", "dealer", True),
                ("a@x.test", "dealer", False),
                ("b@x.test", "dealer", False),
            ):
                connection.execute(insert_user, {"email": email, "role": role, "active": active})
            ids = dict(connection.execute(sa.text("SELECT email, id FROM users")).all())
            turned_off = {"before": {"active": True}, "after": {"active": False}}
            common = {"subject_type": "user", "subject_label": "", "occurred_at": utcnow()}
            connection.execute(
                events.insert(),
                [
                    {**common, **event}
                    for event in [
                        {
                            "action": "user.deactivated",
                            "actor_id": ids["admin@x.test"],
                            "subject_id": ids["a@x.test"],
                            "details": {},
                        },
                        {
                            "action": "user.deactivated",
                            "actor_id": ids["owner@x.test"],
                            "subject_id": ids["a@x.test"],
                            "details": {},
                        },
                        {
                            "action": "user.updated",
                            "actor_id": ids["admin@x.test"],
                            "subject_id": ids["b@x.test"],
                            "details": turned_off,
                        },
                        {
                            "action": "user.updated",
                            "actor_id": ids["owner@x.test"],
                            "subject_id": ids["b@x.test"],
                            "details": {"before": {"name": "B"}, "after": {"name": "Bee"}},
                        },
                    ]
                ],
            )
        upgrade(revision="0016")
        with db.engine.connect() as connection:
            found = dict(
                connection.execute(
                    sa.text("SELECT email, deactivated_by_role FROM users WHERE deactivated_by_id IS NOT NULL")
                ).all()
            )
    dispose_app(app)
    assert found == {"a@x.test": "dealer", "b@x.test": "admin"}


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_stored_notification_paths_become_endpoints_and_back(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Revision 0018 turns the paths notifications stored into endpoints with arguments (ids as numbers), keeps a
    path it does not know as it was, and downgrading writes the paths back."""
    app = build_app(fresh_database_url(backend_name, "notification_links", tmp_path_factory))
    old = ["/console/claims/17", "/dealer/statements/2026-Q4", "/dealer/", "/training/certificates/TC-9", "/odd/place"]
    with app.app_context():
        upgrade(revision="0017")
        with db.engine.begin() as connection:
            user_id = _one_user(connection)
            rows = [
                {"user_id": user_id, "kind": "claim_comment", "params": {}, "link": path, "created_at": utcnow()}
                for path in old
            ]
            connection.execute(NOTIFICATIONS.insert(), rows)

        def stored() -> list[tuple[object, ...]]:
            with db.engine.connect() as connection:
                return [
                    tuple(row)
                    for row in connection.execute(
                        sa.text("SELECT link_endpoint, link_args, link FROM notifications ORDER BY id")
                    )
                ]

        upgrade(revision="0018")
        typed = stored()
        downgrade(revision="0017")
        with db.engine.connect() as connection:
            restored = list(connection.execute(sa.text("SELECT link FROM notifications ORDER BY id")).scalars())
    dispose_app(app)
    as_json = [
        (endpoint, args if isinstance(args, dict | None) else json.loads(args), link) for endpoint, args, link in typed
    ]
    assert as_json == [
        ("claims.review_page", {"claim_id": 17}, ""),
        ("rebates.dealer_statement", {"period_code": "2026-Q4"}, ""),
        ("dealers.dealer_home", {}, ""),
        ("training.certificate", {"number": "TC-9"}, ""),
        (None, None, "/odd/place"),
    ]
    assert restored == old


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_the_ledger_migration_carries_the_demo_statements_into_the_accounts(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The demo channel's statements (final, paid, with a late-sales adjustment) as they stood before the ledger:
    down to 0019, up again, and each dealer's account holds exactly its frozen statements' net figures less what
    was paid, computed here from the statements table alone."""
    app = build_app(fresh_database_url(backend_name, "ledger_migration", tmp_path_factory))
    with app.app_context():
        upgrade()
        seed_demo()
        db.session.commit()
        db.session.remove()
        downgrade(revision="0019")
        frozen = db.session.execute(
            sa.text("SELECT dealer_id, status, net_payable FROM rebate_statements WHERE status IN ('final', 'paid')")
        ).all()
        db.session.remove()
        upgrade()
        balances = dict(
            db.session.execute(sa.text("SELECT dealer_id, SUM(amount) FROM ledger_entries GROUP BY dealer_id")).all()
        )
        payments = db.session.execute(sa.text("SELECT count(*) FROM ledger_entries WHERE kind = 'payment'")).scalar()
        unset = db.session.execute(
            sa.text(
                "SELECT count(*) FROM rebate_statements WHERE status IN ('final', 'paid') AND closing_balance IS NULL"
            )
        ).scalar()
        db.session.remove()
    dispose_app(app)
    expected: dict[int, int] = {}
    for dealer_id, status, net in frozen:
        paid = max(0, net) if status == "paid" else 0
        expected[dealer_id] = expected.get(dealer_id, 0) + net - paid
    assert {dealer: int(total) for dealer, total in balances.items()} == {
        dealer: total for dealer, total in expected.items() if dealer in balances
    }
    assert set(expected) - set(balances) <= {dealer for dealer, total in expected.items() if total == 0}
    assert payments == sum(1 for _dealer, status, net in frozen if status == "paid" and net > 0) > 0
    assert unset == 0


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_invoices_that_differ_only_in_case_stay_counted_when_keys_arrive(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Before revision 0024 "inv-1" and "INV-1" were two sales (the bug). The new key makes them one invoice; the
    migration keeps both counted (money on statements does not move under anyone's feet), the later one under a
    line number of its own, and every key is the trimmed upper-case reference."""
    app = build_app(fresh_database_url(backend_name, "invoice_keys", tmp_path_factory))
    with app.app_context():
        upgrade()
        seed_demo()
        db.session.commit()
        db.session.remove()
        downgrade(revision="0023")
        with db.engine.begin() as connection:
            first = connection.execute(sa.text("SELECT min(id) FROM sales_lines")).scalar_one()
            connection.execute(
                sa.text(
                    "INSERT INTO sales_lines (dealer_id, period_id, booked_period_id, sold_on, amount, units, "
                    "product_line, invoice_ref, import_id) SELECT dealer_id, period_id, booked_period_id, sold_on, "
                    "amount, units, product_line, ' ' || lower(invoice_ref), import_id FROM sales_lines WHERE id = :id"
                ),
                {"id": first},
            )
            before = connection.execute(sa.text("SELECT count(*), sum(amount) FROM sales_lines")).one()
        upgrade()
        with db.engine.connect() as connection:
            after = connection.execute(sa.text("SELECT count(*), sum(amount) FROM sales_lines")).one()
            twins = connection.execute(
                sa.text(
                    "SELECT id, invoice_key, line_no FROM sales_lines WHERE invoice_key = "
                    "(SELECT invoice_key FROM sales_lines WHERE id = :id) ORDER BY id"
                ),
                {"id": first},
            ).all()
            untrimmed = connection.execute(
                sa.text("SELECT count(*) FROM sales_lines WHERE invoice_key <> upper(trim(invoice_ref))")
            ).scalar_one()
        db.session.remove()
    dispose_app(app)
    assert tuple(after) == tuple(before)
    assert len(twins) == 2 and twins[0][2] == 0 and twins[1][2] == -twins[1][0]
    assert untrimmed == 0


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_price_list_acknowledgements_move_into_the_shared_mechanism_and_back(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Revision 0032 moves the price lists' receipts and reminders into acknowledgements (subject "price_list");
    down to 0031 they are receipts again, and up again the same acknowledgements."""
    app = build_app(fresh_database_url(backend_name, "acknowledgements", tmp_path_factory))
    query = sa.text(
        "SELECT subject_type, subject_id, dealer_id, acknowledged_by_id FROM acknowledgements ORDER BY dealer_id"
    )
    with app.app_context():
        upgrade()
        seed_demo()
        db.session.commit()
        with db.engine.begin() as connection:
            price_list, owner, dealer = connection.execute(
                sa.text(
                    "SELECT price_lists.id, users.id, users.dealer_id FROM price_lists, users "
                    "WHERE price_lists.status = 'published' AND users.dealer_role = 'owner' ORDER BY users.id"
                )
            ).first()  # type: ignore[misc]
            connection.execute(
                sa.text(
                    "INSERT INTO acknowledgements (subject_type, subject_id, dealer_id, acknowledged_by_id, "
                    "acknowledged_at) VALUES ('price_list', :list, :dealer, :owner, CURRENT_TIMESTAMP)"
                ),
                {"list": price_list, "dealer": dealer, "owner": owner},
            )
            connection.execute(
                sa.text(
                    "INSERT INTO acknowledgement_reminders (subject_type, subject_id, dealer_id, reminded_at) "
                    "VALUES ('price_list', :list, :dealer, CURRENT_TIMESTAMP)"
                ),
                {"list": price_list, "dealer": dealer},
            )
        db.session.remove()
        before = list(db.session.execute(query).all())
        db.session.remove()
        downgrade(revision="0031")
        receipts = list(
            db.session.execute(
                sa.text("SELECT price_list_id, dealer_id, acknowledged_by_id FROM price_list_receipts")
            ).all()
        )
        reminders = db.session.execute(sa.text("SELECT count(*) FROM price_list_reminders")).scalar_one()
        db.session.remove()
        upgrade()
        after = list(db.session.execute(query).all())
        db.session.remove()
    dispose_app(app)
    assert [tuple(row) for row in receipts] == [(price_list, dealer, owner)] and reminders == 1
    assert (
        [tuple(row) for row in after] == [tuple(row) for row in before] == [("price_list", price_list, dealer, owner)]
    )
