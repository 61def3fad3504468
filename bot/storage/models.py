"""Table definitions: the single source the Alembic migrations are checked against.

Nothing here holds message text or display names. Users appear only as keyed hashes
(``user_key``) except where a department submits a nomination on purpose (business data).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python, whatever the database keeps."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive datetimes (their zone is a guess) and store UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; pass an aware one (UTC)")
        value = value.astimezone(UTC)
        # SQLite keeps text without an offset; all values being UTC keeps them comparable.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Give back an aware UTC datetime."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


ID = sa.String(200)  # ids from Teams / Entra / our own uuids
KEY = sa.String(128)  # keyed hashes of user ids

# -- Teams plumbing ---------------------------------------------------------------------------

activity_claims = sa.Table(
    "activity_claims",
    metadata,
    sa.Column("key", sa.String(400), primary_key=True),
    sa.Column("claimed_at", UtcDateTime(), nullable=False),
    sa.Index(None, "claimed_at"),
)

conversations = sa.Table(
    "conversations",
    metadata,
    sa.Column("conversation_id", sa.String(400), primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("service_url", sa.String(400), nullable=False),
    sa.Column("tenant_id", ID, nullable=True),
    sa.Column("bot_id", ID, nullable=False, server_default=""),
    sa.Column("team_id", sa.String(400), nullable=True),
    sa.Column("channel_id", sa.String(400), nullable=True),
    sa.Column("thread_root_id", ID, nullable=True),
    sa.Column("user_aad_id", ID, nullable=True),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.Index(None, "user_aad_id", "kind"),
    sa.Index(None, "kind"),
)

job_runs = sa.Table(
    "job_runs",
    metadata,
    sa.Column("job", ID, primary_key=True),
    sa.Column("slot", ID, primary_key=True),
    sa.Column("claimed_at", UtcDateTime(), nullable=False),
)

# -- Nudges -----------------------------------------------------------------------------------

nudge_user_days = sa.Table(
    "nudge_user_days",
    metadata,
    sa.Column("user_key", KEY, primary_key=True),
    sa.Column("day", sa.Date(), primary_key=True),
    sa.Column("total", sa.Integer(), nullable=False),
)

nudge_rule_days = sa.Table(
    "nudge_rule_days",
    metadata,
    sa.Column("user_key", KEY, primary_key=True),
    sa.Column("day", sa.Date(), primary_key=True),
    sa.Column("rule_id", ID, primary_key=True),
    sa.Column("count", sa.Integer(), nullable=False),
)

nudge_snoozes = sa.Table(
    "nudge_snoozes",
    metadata,
    sa.Column("user_key", KEY, primary_key=True),
    sa.Column("until", sa.Date(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

nudge_opt_outs = sa.Table(
    "nudge_opt_outs",
    metadata,
    sa.Column("user_key", KEY, primary_key=True),
    sa.Column("rule_id", ID, primary_key=True),
    sa.Column("at", UtcDateTime(), nullable=False),
)

nudge_feedback = sa.Table(
    "nudge_feedback",
    metadata,
    sa.Column("nudge_id", ID, primary_key=True),
    sa.Column("user_key", KEY, primary_key=True),
    sa.Column("rule_id", ID, primary_key=True),
    sa.Column("helpful", sa.Boolean(), nullable=False),
    sa.Column("day", sa.Date(), nullable=False),
    sa.Column("at", UtcDateTime(), nullable=False),
    sa.Index(None, "day"),
)

sent_nudges = sa.Table(
    "sent_nudges",
    metadata,
    sa.Column("nudge_id", ID, primary_key=True),
    sa.Column("conversation_id", sa.String(400), nullable=False),
    sa.Column("message_activity_id", ID, nullable=False),
    sa.Column("user_key", KEY, nullable=False),
    sa.Column("rule_ids", sa.JSON(), nullable=False),
    sa.Column("sent_activity_id", ID, nullable=True),
    sa.Column("delivered_via", sa.String(20), nullable=False),
    sa.Column("sent_at", UtcDateTime(), nullable=False),
    sa.Column("withdrawn_at", UtcDateTime(), nullable=True),
    sa.Index(None, "conversation_id", "message_activity_id"),
    sa.Index(None, "sent_at"),
)

recent_events = sa.Table(
    "recent_events",
    metadata,
    sa.Column("user_key", KEY, primary_key=True),
    sa.Column("conversation_id", sa.String(400), primary_key=True),
    sa.Column("kind", sa.String(50), primary_key=True),
    sa.Column("at", UtcDateTime(), nullable=False),
    sa.Index(None, "at"),
)

# -- Statistics -------------------------------------------------------------------------------

stats_daily = sa.Table(
    "stats_daily",
    metadata,
    sa.Column("day", sa.Date(), primary_key=True),
    sa.Column("conversation_kind", sa.String(20), primary_key=True),
    sa.Column("department", ID, primary_key=True),
    sa.Column("rule_id", ID, primary_key=True),
    sa.Column("metric", sa.String(50), primary_key=True),
    sa.Column("n", sa.BigInteger(), nullable=False),
)

stats_distinct_users = sa.Table(
    "stats_distinct_users",
    metadata,
    sa.Column("day", sa.Date(), primary_key=True),
    sa.Column("metric", sa.String(50), primary_key=True),
    sa.Column("dimension", ID, primary_key=True),
    sa.Column("user_hash", KEY, primary_key=True),
)

# Dates an admin marked on the dashboard (a rule change, a campaign): the date and a short label,
# never who marked it. One table, so that every replica shows the same marks.
stats_marks = sa.Table(
    "stats_marks",
    metadata,
    sa.Column("day", sa.Date(), primary_key=True),
    sa.Column("label", sa.String(200), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

# -- WG nominations ---------------------------------------------------------------------------

departments = sa.Table(
    "departments",
    metadata,
    sa.Column("code", ID, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("contacts", sa.JSON(), nullable=False),
    sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
    sa.Column("sort_order", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

campaigns = sa.Table(
    "campaigns",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("fiscal_year", sa.Integer(), nullable=False),
    sa.Column("wg_ids", sa.JSON(), nullable=False),
    sa.Column("wg_departments", sa.JSON(), nullable=False),
    sa.Column("opens_at", UtcDateTime(), nullable=False),
    sa.Column("deadline", UtcDateTime(), nullable=False),
    sa.Column("reminder_schedule", sa.JSON(), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("created_by", ID, nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.CheckConstraint("status IN ('open', 'closed')", name="status"),
    sa.Index(None, "status"),
)

submissions = sa.Table(
    "submissions",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("campaign_id", ID, sa.ForeignKey("campaigns.id"), nullable=False),
    sa.Column("department_code", ID, sa.ForeignKey("departments.code"), nullable=False),
    sa.Column("wg_id", ID, nullable=False),
    sa.Column("nominees", sa.JSON(), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("submitted_by", ID, nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("campaign_id", "department_code", "wg_id"),
    sa.CheckConstraint("status IN ('submitted', 'withdrawn')", name="status"),
)

applications = sa.Table(
    "applications",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("campaign_id", ID, sa.ForeignKey("campaigns.id"), nullable=False),
    sa.Column("applicant_aad_id", ID, nullable=False),
    sa.Column("applicant_name", sa.String(200), nullable=False),
    sa.Column("department_code", ID, nullable=True),
    sa.Column("position", sa.String(200), nullable=True),  # 職名; NULL in rows from before 0002
    sa.Column("wg_id", ID, nullable=False),
    sa.Column("themes", sa.JSON(), nullable=False),
    sa.Column("motivation", sa.Text(), nullable=False),
    sa.Column("supervisor_agreed", sa.Boolean(), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("campaign_id", "applicant_aad_id"),
    sa.CheckConstraint("status IN ('submitted', 'withdrawn')", name="status"),
)

submit_actions = sa.Table(
    "submit_actions",
    metadata,
    sa.Column("idempotency_key", sa.String(400), primary_key=True),
    sa.Column("entity", sa.String(20), nullable=False),
    sa.Column("entity_id", ID, nullable=True),
    sa.Column("at", UtcDateTime(), nullable=False),
)

nomination_audit = sa.Table(
    "nomination_audit",
    metadata,
    sa.Column(
        "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    sa.Column("campaign_id", ID, nullable=False),
    sa.Column("entity", sa.String(20), nullable=False),
    sa.Column("entity_id", ID, nullable=False),
    sa.Column("action", sa.String(30), nullable=False),
    sa.Column("actor", ID, nullable=False),
    sa.Column("at", UtcDateTime(), nullable=False),
    sa.Column("before", sa.JSON(), nullable=True),
    sa.Column("after", sa.JSON(), nullable=True),
    sa.Index(None, "campaign_id", "entity_id"),
)

reminder_claims = sa.Table(
    "reminder_claims",
    metadata,
    sa.Column("campaign_id", ID, primary_key=True),
    sa.Column("department_code", ID, primary_key=True),
    sa.Column("slot", ID, primary_key=True),
    sa.Column("claimed_at", UtcDateTime(), nullable=False),
)
