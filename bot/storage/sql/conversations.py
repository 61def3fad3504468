"""Conversation references for proactive messages (addressing data, no message text)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from bot.domain import ConversationKind, ConversationRef
from bot.storage.models import conversations as t
from bot.storage.sql._common import SqlRepository, insert_for, utcnow

_REF_COLUMNS = (
    "conversation_id",
    "kind",
    "service_url",
    "tenant_id",
    "bot_id",
    "team_id",
    "channel_id",
    "thread_root_id",
)


def _to_ref(row: Any) -> ConversationRef:
    return ConversationRef(**{name: getattr(row, name) for name in _REF_COLUMNS})


def _remember(conn: sa.Connection, values: dict[str, Any]) -> None:
    stmt = insert_for(conn, t).values(**values)
    updates = {name: stmt.excluded[name] for name in _REF_COLUMNS if name != "conversation_id"}
    # A later event without the user (e.g. a channel message) must not forget whose chat it is.
    updates["user_aad_id"] = sa.func.coalesce(stmt.excluded.user_aad_id, t.c.user_aad_id)
    updates["updated_at"] = stmt.excluded.updated_at
    conn.execute(stmt.on_conflict_do_update(index_elements=["conversation_id"], set_=updates))


def _first_ref(conn: sa.Connection, query: sa.Select[Any]) -> ConversationRef | None:
    row = conn.execute(query).first()
    return _to_ref(row) if row else None


def _all_refs(conn: sa.Connection, query: sa.Select[Any]) -> list[ConversationRef]:
    return [_to_ref(row) for row in conn.execute(query)]


def _forget(conn: sa.Connection, conversation_id: str) -> bool:
    return bool(conn.execute(sa.delete(t).where(t.c.conversation_id == conversation_id)).rowcount)


class SqlConversationStore(SqlRepository):
    """``ConversationStore`` on the ``conversations`` table."""

    async def remember(self, ref: ConversationRef, *, user_aad_id: str | None = None) -> None:
        """Insert or update a reference; a missing ``user_aad_id`` keeps the stored one."""
        values: dict[str, Any] = {name: getattr(ref, name) for name in _REF_COLUMNS}
        values["user_aad_id"] = user_aad_id
        values["updated_at"] = utcnow()
        await self._db.write_relaxed(_remember, values)

    async def get(self, conversation_id: str) -> ConversationRef | None:
        """The stored reference, or None."""
        return await self._db.read(_first_ref, sa.select(t).where(t.c.conversation_id == conversation_id))

    async def personal_for_user(self, aad_id: str) -> ConversationRef | None:
        """The user's 1:1 chat with the bot (most recently seen), or None."""
        query = (
            sa.select(t)
            .where(t.c.user_aad_id == aad_id, t.c.kind == "personal")
            .order_by(t.c.updated_at.desc())
            .limit(1)
        )
        return await self._db.read(_first_ref, query)

    async def list_by_kind(
        self, kind: ConversationKind, *, tenant_id: str | None = None, team_id: str | None = None
    ) -> list[ConversationRef]:
        """All stored references of one kind, optionally within a tenant or team."""
        query = sa.select(t).where(t.c.kind == kind).order_by(t.c.conversation_id)
        if tenant_id is not None:
            query = query.where(t.c.tenant_id == tenant_id)
        if team_id is not None:
            query = query.where(t.c.team_id == team_id)
        return await self._db.read(_all_refs, query)

    async def forget(self, conversation_id: str) -> bool:
        """Remove a reference (the bot was uninstalled); True if there was one."""
        return await self._db.write(_forget, conversation_id)
