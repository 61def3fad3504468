"""Per-user nudge state: caps, snoozes, opt-outs, feedback, sent nudges, recent events."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from bot.storage.models import (
    nudge_feedback,
    nudge_opt_outs,
    nudge_rule_days,
    nudge_snoozes,
    nudge_user_days,
    recent_events,
    sent_nudges,
)
from bot.storage.ports import FeedbackCount, SentNudge
from bot.storage.sql._common import (
    SqlRepository,
    execute,
    per_dialect,
    returns_row,
    rowcount,
    rows,
    scalar,
    scalars,
    sqlite_connection,
    sqlite_text_of,
    unique_in_order,
    utcnow,
)
from bot.storage.sql.claims import claim_once
from bot.storage.sql.write_behind import WriteBehind

if TYPE_CHECKING:
    from bot.storage.database import Database

GREETING_ONLY = "greeting-only"


def _to_sent(row: Any) -> SentNudge:
    return SentNudge(
        nudge_id=row.nudge_id,
        conversation_id=row.conversation_id,
        message_activity_id=row.message_activity_id,
        user_key=row.user_key,
        rule_ids=tuple(row.rule_ids),
        sent_activity_id=row.sent_activity_id,
        delivered_via=row.delivered_via,
        sent_at=row.sent_at,
        withdrawn_at=row.withdrawn_at,
    )


_U, _R = nudge_user_days, nudge_rule_days
_INSERT_USER_DAY = per_dialect(
    lambda insert: insert(_U).on_conflict_do_nothing(index_elements=["user_key", "day"])
)
_LOCK_USER_DAY = (
    sa.select(_U.c.total)
    .where(_U.c.user_key == sa.bindparam("user_key"), _U.c.day == sa.bindparam("day"))
    .with_for_update()
)


def _lock_user_day(conn: sa.Connection, user_key: str, day: date) -> int:
    """Create and lock the (user, day) counter row; return today's total so far.

    On PostgreSQL FOR UPDATE makes concurrent reserves for this user wait here, on any replica;
    on SQLite BEGIN IMMEDIATE already did.
    """
    key = {"user_key": user_key, "day": day}
    conn.execute(_INSERT_USER_DAY[conn.dialect.name], {**key, "total": 0})
    return int(conn.execute(_LOCK_USER_DAY, key).scalar_one())


def _reserve(
    conn: sa.Connection,
    user_key: str,
    wanted: list[str],
    day: date,
    per_rule_cap: int,
    overall_cap: int,
    once_key: str | None = None,
    now: datetime | None = None,
) -> list[str]:
    """SQLite's reservation (PostgreSQL calls the nudge_reserve function of migration 0004)."""
    if once_key is not None and not claim_once(conn, once_key, now or utcnow()):
        return []  # handled before (a redelivery, or another replica)
    raw = sqlite_connection(conn)
    assert raw is not None, "PostgreSQL reserves through the nudge_reserve function"
    return _reserve_sqlite(raw, user_key, wanted, day, per_rule_cap, overall_cap)


# PostgreSQL: the whole reservation in one call (migration 0004), one round trip in autocommit.
_PG_RESERVE = sa.text(
    "SELECT nudge_reserve(:user_key, CAST(:rule_ids AS VARCHAR[]), :day, :per_rule_cap, "
    ":overall_cap, :once_key, :now)"
).bindparams(
    sa.bindparam("day", type_=sa.Date()),
    sa.bindparam("now", type_=sa.DateTime(timezone=True)),
)


def _grant(
    wanted: list[str],
    total: int,
    opted_out: set[str],
    counts: dict[str, int],
    per_rule_cap: int,
    overall_cap: int,
) -> list[str]:
    granted: list[str] = []
    for rule_id in wanted:
        if total + len(granted) >= overall_cap:
            break
        if rule_id in opted_out or counts.get(rule_id, 0) >= per_rule_cap:
            continue
        granted.append(rule_id)
    return granted


# The same transaction on SQLite, straight through sqlite3: the writer thread runs it for every
# nudge, and SQLAlchemy's execution costs about six times sqlite3's own for statements this
# small. Values are written exactly as SQLAlchemy writes them (sqlite_text_of), and read back
# through SQLAlchemy everywhere else.
_SQLITE_USER_DAY = (
    "INSERT INTO nudge_user_days (user_key, day, total) VALUES (?, ?, 0) "
    "ON CONFLICT (user_key, day) DO UPDATE SET total = total RETURNING total"
)
_SQLITE_SNOOZED_UNTIL = "SELECT until FROM nudge_snoozes WHERE user_key = ?"
_SQLITE_OPTED_OUT = "SELECT rule_id FROM nudge_opt_outs WHERE user_key = ?"
_SQLITE_RULE_COUNTS = "SELECT rule_id, count FROM nudge_rule_days WHERE user_key = ? AND day = ?"
_SQLITE_BUMP_RULE = (
    "INSERT INTO nudge_rule_days (user_key, day, rule_id, count) VALUES (?, ?, ?, 1) "
    "ON CONFLICT (user_key, day, rule_id) DO UPDATE SET count = count + 1"
)
_SQLITE_BUMP_TOTAL = "UPDATE nudge_user_days SET total = total + ? WHERE user_key = ? AND day = ?"


def _reserve_sqlite(
    raw: Any,
    user_key: str,
    wanted: list[str],
    day: date,
    per_rule_cap: int,
    overall_cap: int,
) -> list[str]:
    day_text = day.isoformat()
    # the writer's BEGIN IMMEDIATE already holds the database's write lock
    total = int(raw.execute(_SQLITE_USER_DAY, (user_key, day_text)).fetchall()[0][0])
    snoozed = raw.execute(_SQLITE_SNOOZED_UNTIL, (user_key,)).fetchone()
    if snoozed is not None and day_text <= snoozed[0]:
        return []
    opted_out = {row[0] for row in raw.execute(_SQLITE_OPTED_OUT, (user_key,))}
    counts = dict(raw.execute(_SQLITE_RULE_COUNTS, (user_key, day_text)).fetchall())
    granted = _grant(wanted, total, opted_out, counts, per_rule_cap, overall_cap)
    if granted:
        raw.executemany(_SQLITE_BUMP_RULE, [(user_key, day_text, rule_id) for rule_id in granted])
        raw.execute(_SQLITE_BUMP_TOTAL, (len(granted), user_key, day_text))
    return granted


_RECORD_SENT = per_dialect(
    lambda insert: insert(sent_nudges).on_conflict_do_nothing(index_elements=["nudge_id"])
)
_SQLITE_RECORD_SENT = (
    "INSERT INTO sent_nudges (nudge_id, conversation_id, message_activity_id, user_key, rule_ids, "
    "sent_activity_id, delivered_via, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (nudge_id) DO NOTHING"
)


def _record_sent(conn: sa.Connection, batch: list[dict[str, Any]]) -> None:
    raw = sqlite_connection(conn)
    if raw is None:
        conn.execute(_RECORD_SENT[conn.dialect.name], batch)
        return
    raw.executemany(
        _SQLITE_RECORD_SENT,
        [
            (
                row["nudge_id"],
                row["conversation_id"],
                row["message_activity_id"],
                row["user_key"],
                json.dumps(row["rule_ids"]),  # as SQLAlchemy's JSON type writes it
                row["sent_activity_id"],
                row["delivered_via"],
                sqlite_text_of(row["sent_at"]),
            )
            for row in batch
        ],
    )


def _release(conn: sa.Connection, user_key: str, wanted: list[str], day: date) -> None:
    u, r = nudge_user_days, nudge_rule_days
    _lock_user_day(conn, user_key, day)
    released = (
        conn.execute(
            sa.update(r)
            .where(r.c.user_key == user_key, r.c.day == day, r.c.rule_id.in_(wanted), r.c.count > 0)
            .values(count=r.c.count - 1)
        ).rowcount
        or 0
    )
    if released:
        conn.execute(
            sa.update(u)
            .where(u.c.user_key == user_key, u.c.day == day)
            .values(total=sa.case((u.c.total > released, u.c.total - released), else_=0))
        )


def _feedback_counts(conn: sa.Connection, since: date, until: date | None) -> list[FeedbackCount]:
    t = nudge_feedback
    helpful = sa.func.sum(sa.case((t.c.helpful, 1), else_=0))
    not_helpful = sa.func.sum(sa.case((t.c.helpful, 0), else_=1))
    query = sa.select(t.c.rule_id, helpful, not_helpful).where(t.c.day >= since).group_by(t.c.rule_id)
    if until is not None:
        query = query.where(t.c.day <= until)
    return [
        FeedbackCount(rule_id=rule_id, helpful=int(yes), not_helpful=int(no))
        for rule_id, yes, no in conn.execute(query.order_by(t.c.rule_id))
    ]


def _purge(conn: sa.Connection, cutoff_time: datetime) -> int:
    cutoff_day = cutoff_time.date()
    removed = 0
    for stmt in (
        sa.delete(nudge_rule_days).where(nudge_rule_days.c.day < cutoff_day),
        sa.delete(nudge_user_days).where(nudge_user_days.c.day < cutoff_day),
        sa.delete(nudge_snoozes).where(nudge_snoozes.c.until < cutoff_day),
        sa.delete(sent_nudges).where(sent_nudges.c.sent_at < cutoff_time),
        sa.delete(recent_events).where(recent_events.c.at < cutoff_time),
    ):
        removed += conn.execute(stmt).rowcount or 0
    return removed


class SqlNudgeState(SqlRepository):
    """``NudgeState``; caps are serialised per (user, day) by a locked counter row.

    Sent-nudge records are written behind (``WriteBehind``): a batch per 20 ms rather than a
    transaction per nudge; the methods that read or change them settle this replica's batch
    first. Another replica sees a record once its batch is stored: an edit it handles within
    those ~20 ms of the nudge's delivery finds no nudge to withdraw (and may nudge again).
    """

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self._sent: WriteBehind[dict[str, Any]] = WriteBehind(self._write_sent, what="sent-nudge records")

    async def _write_sent(self, batch: list[dict[str, Any]]) -> None:
        await self._db.write_relaxed(_record_sent, batch)

    async def settle(self) -> None:
        """Store the sent-nudge records still waiting (before reading them, and at shutdown)."""
        await self._sent.settle()

    async def reserve(
        self,
        user_key: str,
        rule_ids: Sequence[str],
        day: date,
        *,
        per_rule_cap: int = 1,
        overall_cap: int = 3,
        once_key: str | None = None,
    ) -> list[str]:
        """Atomically pick the rules that may still nudge this user on ``day`` and count them
        (claiming ``once_key`` in the same transaction; a key claimed before gets none)."""
        wanted = unique_in_order(rule_ids)
        if not wanted or per_rule_cap <= 0 or overall_cap <= 0:
            return []
        if self._db.dialect == "postgresql":
            granted = await self._db.call_relaxed(
                _PG_RESERVE,
                {
                    "user_key": user_key,
                    "rule_ids": wanted,
                    "day": day,
                    "per_rule_cap": per_rule_cap,
                    "overall_cap": overall_cap,
                    "once_key": once_key,
                    "now": utcnow(),
                },
            )
            return list(granted or [])
        return await self._db.write_relaxed(
            _reserve, user_key, wanted, day, per_rule_cap, overall_cap, once_key, utcnow()
        )

    async def release(self, user_key: str, rule_ids: Sequence[str], day: date) -> None:
        """Give back a reservation whose nudge could not be sent."""
        wanted = unique_in_order(rule_ids)
        if wanted:
            await self._db.write_relaxed(_release, user_key, wanted, day)

    async def snooze_until(self, user_key: str, until: date) -> None:
        """No nudges for this user up to and including ``until``."""
        stmt = self._insert(nudge_snoozes).values(user_key=user_key, until=until, updated_at=utcnow())
        stmt = stmt.on_conflict_do_update(
            index_elements=["user_key"],
            set_={"until": stmt.excluded.until, "updated_at": stmt.excluded.updated_at},
        )
        await self._db.write(execute, stmt)

    async def unsnooze(self, user_key: str) -> None:
        """Lift the user's snooze."""
        await self._db.write(execute, sa.delete(nudge_snoozes).where(nudge_snoozes.c.user_key == user_key))

    async def snoozed_until(self, user_key: str) -> date | None:
        """The last snoozed day, or None."""
        until: date | None = await self._db.read(
            scalar, sa.select(nudge_snoozes.c.until).where(nudge_snoozes.c.user_key == user_key)
        )
        return until

    async def snoozed(self, user_key: str, today: date) -> bool:
        """Whether the user is snoozed on ``today``."""
        until = await self.snoozed_until(user_key)
        return until is not None and today <= until

    async def opt_out(self, user_key: str, rule_id: str) -> None:
        """Stop nudging this user about ``rule_id``."""
        stmt = (
            self._insert(nudge_opt_outs)
            .values(user_key=user_key, rule_id=rule_id, at=utcnow())
            .on_conflict_do_nothing(index_elements=["user_key", "rule_id"])
        )
        await self._db.write(execute, stmt)

    async def opt_in(self, user_key: str, rule_id: str) -> None:
        """Undo an opt-out."""
        t = nudge_opt_outs
        await self._db.write(execute, sa.delete(t).where(t.c.user_key == user_key, t.c.rule_id == rule_id))

    async def opted_out(self, user_key: str) -> set[str]:
        """Rule ids the user opted out of."""
        t = nudge_opt_outs
        return set(await self._db.read(scalars, sa.select(t.c.rule_id).where(t.c.user_key == user_key)))

    async def record_feedback(
        self, rule_id: str, helpful: bool, day: date, user_key: str, nudge_id: str
    ) -> bool:
        """Store a feedback click once per (nudge, user, rule); True if new."""
        t = nudge_feedback
        stmt = (
            self._insert(t)
            .values(
                nudge_id=nudge_id, user_key=user_key, rule_id=rule_id, helpful=helpful, day=day, at=utcnow()
            )
            .on_conflict_do_nothing(index_elements=["nudge_id", "user_key", "rule_id"])
            .returning(t.c.nudge_id)
        )
        return await self._db.write(returns_row, stmt)

    async def feedback_counts(self, since: date, until: date | None = None) -> list[FeedbackCount]:
        """Feedback per rule for days in [since, until]."""
        return await self._db.read(_feedback_counts, since, until)

    async def record_sent_nudge(
        self,
        nudge_id: str,
        message_activity_id: str,
        conversation_id: str,
        user_key: str,
        rule_ids: Sequence[str],
        sent_activity_id: str | None,
        delivered_via: str,
        at: datetime,
    ) -> None:
        """Remember where a nudge went (idempotent per ``nudge_id``); stored within 20 ms."""
        row = {
            "nudge_id": nudge_id,
            "conversation_id": conversation_id,
            "message_activity_id": message_activity_id,
            "user_key": user_key,
            "rule_ids": list(rule_ids),
            "sent_activity_id": sent_activity_id,
            "delivered_via": delivered_via,
            "sent_at": at,
        }
        self._sent.add(row)

    async def find_nudge_for_message(
        self, conversation_id: str, message_activity_id: str
    ) -> SentNudge | None:
        """The latest nudge sent about a message, withdrawn or not."""
        await self._sent.settle()
        t = sent_nudges
        query = (
            sa.select(t)
            .where(t.c.conversation_id == conversation_id, t.c.message_activity_id == message_activity_id)
            .order_by(t.c.sent_at.desc())
            .limit(1)
        )
        found = await self._db.read(rows, query)
        return _to_sent(found[0]) if found else None

    async def get_sent_nudge(self, nudge_id: str) -> SentNudge | None:
        """A sent nudge by id."""
        await self._sent.settle()
        found = await self._db.read(rows, sa.select(sent_nudges).where(sent_nudges.c.nudge_id == nudge_id))
        return _to_sent(found[0]) if found else None

    async def mark_withdrawn(self, nudge_id: str, at: datetime | None = None) -> bool:
        """Mark a nudge withdrawn; True only for the first caller."""
        await self._sent.settle()
        t = sent_nudges
        stmt = (
            sa.update(t)
            .where(t.c.nudge_id == nudge_id, t.c.withdrawn_at.is_(None))
            .values(withdrawn_at=at or utcnow())
        )
        return bool(await self._db.write_relaxed(rowcount, stmt))

    async def record_event(self, user_key: str, conversation_id: str, kind: str, at: datetime) -> None:
        """Remember the latest time of a small per-user event."""
        stmt = self._insert(recent_events).values(
            user_key=user_key, conversation_id=conversation_id, kind=kind, at=at
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["user_key", "conversation_id", "kind"], set_={"at": stmt.excluded.at}
        )
        await self._db.write_relaxed(execute, stmt)

    async def last_event(self, user_key: str, conversation_id: str, kind: str) -> datetime | None:
        """When the event was last recorded, or None."""
        t = recent_events
        query = sa.select(t.c.at).where(
            t.c.user_key == user_key, t.c.conversation_id == conversation_id, t.c.kind == kind
        )
        at: datetime | None = await self._db.read(scalar, query)
        return at

    async def record_greeting_only(self, user_key: str, conversation_id: str, at: datetime) -> None:
        """The user just sent a message that was only a greeting."""
        await self.record_event(user_key, conversation_id, GREETING_ONLY, at)

    async def last_greeting_only(self, user_key: str, conversation_id: str) -> datetime | None:
        """When the user last sent a greeting-only message here, or None."""
        return await self.last_event(user_key, conversation_id, GREETING_ONLY)

    async def purge_older_than(self, days: int) -> int:
        """Drop counters, sent-nudge records, expired snoozes and events older than ``days``."""
        await self._sent.settle()
        return await self._db.write(_purge, utcnow() - timedelta(days=days))
