"""PostgreSQL: a nudge's cap reservation as one database function (one round trip, not eleven).

The function does what ``bot.storage.sql.nudges._reserve`` does on SQLite, in one transaction:
claim the once-key (a redelivery gets nothing), create and lock the (user, day) counter row,
skip a snoozed user, then grant the wanted rules in order while the overall cap allows,
skipping opted-out rules and rules at their per-rule cap, and count what was granted. The
storage tests run the same tables of cases on both databases. SQLite: nothing to do.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 07:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op


revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CREATE_FUNCTION = """
CREATE OR REPLACE FUNCTION nudge_reserve(
    p_user_key varchar, p_rule_ids varchar[], p_day date, p_per_rule_cap integer,
    p_overall_cap integer, p_once_key varchar, p_now timestamptz
) RETURNS varchar[] LANGUAGE plpgsql AS $$
DECLARE
    v_total integer;
    v_snoozed date;
    v_count integer;
    v_rule varchar;
    v_granted varchar[] := '{}';
BEGIN
    IF p_per_rule_cap <= 0 OR p_overall_cap <= 0 THEN
        RETURN v_granted;  -- nothing may nudge (the caller returns before calling, too)
    END IF;
    IF p_once_key IS NOT NULL THEN
        INSERT INTO activity_claims (key, claimed_at) VALUES (p_once_key, p_now)
            ON CONFLICT (key) DO NOTHING;
        IF NOT FOUND THEN
            RETURN v_granted;  -- handled before: a redelivery, or another replica
        END IF;
    END IF;
    INSERT INTO nudge_user_days (user_key, day, total) VALUES (p_user_key, p_day, 0)
        ON CONFLICT (user_key, day) DO NOTHING;
    -- concurrent reservations for this user and day wait here, on any replica
    SELECT total INTO STRICT v_total FROM nudge_user_days
        WHERE user_key = p_user_key AND day = p_day FOR UPDATE;  -- STRICT: no row is an error
    SELECT until INTO v_snoozed FROM nudge_snoozes WHERE user_key = p_user_key;
    IF v_snoozed IS NOT NULL AND p_day <= v_snoozed THEN
        RETURN v_granted;
    END IF;
    FOREACH v_rule IN ARRAY p_rule_ids LOOP
        EXIT WHEN v_total + cardinality(v_granted) >= p_overall_cap;
        CONTINUE WHEN v_rule = ANY (v_granted);
        CONTINUE WHEN EXISTS (
            SELECT 1 FROM nudge_opt_outs WHERE user_key = p_user_key AND rule_id = v_rule
        );
        SELECT count INTO v_count FROM nudge_rule_days
            WHERE user_key = p_user_key AND day = p_day AND rule_id = v_rule;
        CONTINUE WHEN COALESCE(v_count, 0) >= p_per_rule_cap;
        v_granted := v_granted || v_rule;
    END LOOP;
    IF cardinality(v_granted) > 0 THEN
        INSERT INTO nudge_rule_days (user_key, day, rule_id, count)
            SELECT p_user_key, p_day, granted, 1 FROM unnest(v_granted) AS granted
            ON CONFLICT (user_key, day, rule_id) DO UPDATE SET count = nudge_rule_days.count + 1;
        UPDATE nudge_user_days SET total = total + cardinality(v_granted)
            WHERE user_key = p_user_key AND day = p_day;
    END IF;
    RETURN v_granted;
END
$$;
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(CREATE_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "DROP FUNCTION IF EXISTS nudge_reserve(varchar, varchar[], date, integer, integer, varchar, timestamptz)"
        )
