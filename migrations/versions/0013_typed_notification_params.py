"""typed notification parameters: amounts, statuses and dates stored as structured values, not prefixed strings

Until now an amount was stored as the string "money:<minor units>:<currency>" and a status as "status:<value>", and
every string parameter was parsed on display, so a claim title that began with "money:" was shown as an amount.
This rewrites the portal's own prefixed values, only under the parameter names and kinds that carried them, into
the typed form (portal.notifications.params). Text people typed is never converted.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 09:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

# kind -> {parameter: (prefix, enum name or "money", lower case)} as the portal wrote them up to revision 0012.
TYPED = {
    "dealer_status_changed": {"old": ("status:", "DealerStatus", False), "new": ("status:", "DealerStatus", False)},
    "rebate_paid": {"amount": ("money:", "money", False)},
    "training_enrolled": {"status": ("enrollment:", "EnrollmentStatus", True)},
    "claim_submitted": {"amount": ("money:", "money", False)},
    "claim_second_approval": {"amount": ("money:", "money", False)},
    "claim_approved": {"amount": ("money:", "money", False)},
    "claim_partially_approved": {"amount": ("money:", "money", False)},
    "claim_paid": {"amount": ("money:", "money", False)},
    "pre_approval_requested": {"amount": ("money:", "money", False)},
    "violation_proposed": {"kind": ("violation:", "ViolationKind", False)},
    "violation_confirmed": {
        "kind": ("violation:", "ViolationKind", False),
        "amount": ("money:", "money", False),
        "until": ("", "date", False),
    },
    "dispute_raised": {"category": ("dispute:", "DisputeCategory", False)},
    "dispute_against_you": {"category": ("dispute:", "DisputeCategory", False)},
    "dispute_info_requested": {"until": ("", "date", False)},
    "dispute_resolved": {"status": ("dispute_status:", "DisputeStatus", True)},
    "dispute_withdrawn": {"status": ("dispute_status:", "DisputeStatus", True)},
}

notifications = sa.table(
    "notifications",
    sa.column("id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("params", sa.JSON),
)


def _typed(value, prefix, target, lower):
    if not isinstance(value, str) or not value.startswith(prefix):
        return value
    raw = value[len(prefix):]
    if target == "money":
        amount, _sep, currency = raw.partition(":")
        if amount.lstrip("-").isdigit() and len(currency) == 3:
            return {"type": "money", "amount": int(amount), "currency": currency}
        return value
    if target == "date":
        if len(raw) == 10 and raw[4] == "-" and raw[7] == "-":
            return {"type": "date", "value": raw}
        return value
    return {"type": "label", "enum": target, "value": raw, "lower": lower}


def _untyped(value, prefix, target):
    if not isinstance(value, dict):
        return value
    if target == "money" and value.get("type") == "money":
        return f"money:{value['amount']}:{value['currency']}"
    if target == "date" and value.get("type") == "date":
        return value["value"]
    if value.get("type") == "label":
        return f"{prefix}{value['value']}"
    return value


def _rewrite(convert):
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(notifications.c.id, notifications.c.kind, notifications.c.params).where(
            notifications.c.kind.in_(list(TYPED))
        )
    ).all()
    for row_id, kind, params in rows:
        if not isinstance(params, dict):
            continue
        changed = {key: convert(value, *TYPED[kind][key]) if key in TYPED[kind] else value
                   for key, value in params.items()}
        if changed != params:
            connection.execute(
                notifications.update().where(notifications.c.id == row_id).values(params=changed)
            )


def upgrade():
    _rewrite(_typed)


def downgrade():
    _rewrite(lambda value, prefix, target, lower: _untyped(value, prefix, target))
