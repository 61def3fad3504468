"""Feeds the statistics recorder from the nudge service: plain facts, the sender's department."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from datetime import date, datetime

from bot.domain import CardAction, IncomingMessage, Person
from bot.services.nudges import jst_day_of, today_jst
from bot.stats import DepartmentResolver, StatsRecorder

# A question as people type it in chat: a question mark, or a polite question ending a line.
_QUESTION_ENDING = re.compile(r"(?:ですか|ますか|でしょうか|ませんか|ないか)[。\s]*$", re.MULTILINE)


def looks_like_question(text: str) -> bool:
    """True when the message asks something (counted to compare channels with 1:1 chats)."""
    if "?" in text or "？" in text:
        return True
    # every ending holds か: the substring test spares most messages the regex
    return "か" in text and _QUESTION_ENDING.search(text) is not None


class RecorderSink:
    """Implements the nudge service's ``StatsSink`` on ``StatsRecorder`` (in memory, batched)."""

    def __init__(
        self,
        recorder: StatsRecorder,
        departments: DepartmentResolver | None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """``clock`` None: the system clock (read the cheap way, once per message)."""
        self._recorder = recorder
        self._departments = departments
        self._today: Callable[[], date] = (
            (lambda: today_jst(clock())) if clock is not None else (lambda: jst_day_of(time.time()))
        )

    async def _department(self, person: Person) -> str | None:
        departments = self._departments
        if departments is None:
            return None
        # the usual case, a cached department, without making resolve()'s coroutine per message
        known = departments.cached(person.aad_object_id)
        if known is not None:
            return known
        return await departments.resolve(person.aad_object_id)

    async def message_checked(self, message: IncomingMessage, rule_ids: Sequence[str], user_key: str) -> None:
        """Count a message, the rules it broke and whether it asked a question."""
        if message.is_edit:
            return  # an edit is the same message; it was counted when it was posted
        self._recorder.record_message(
            day=self._today(),
            conversation_kind=message.conversation.kind,
            department=await self._department(message.sender),
            user_key=user_key,
            # Only messages that broke a rule are claimed in the database (once across replicas);
            # a quiet message is counted without a write per message. Redelivery to the same
            # replica is caught by the edge; to another replica it may count a quiet message twice.
            activity_id=f"{message.conversation.conversation_id}:{message.activity_id}" if rule_ids else None,
            rule_ids=rule_ids,
            is_question=looks_like_question(message.text),
        )

    async def nudge_sent(
        self, sender: Person, conversation_kind: str, rule_ids: Sequence[str], nudge_id: str
    ) -> None:
        """Count a nudge that reached the sender (once per ``nudge_id``, across replicas)."""
        self._recorder.record_nudge(
            day=self._today(),
            conversation_kind=conversation_kind,
            department=await self._department(sender),
            rule_ids=rule_ids,
            activity_id=nudge_id,
        )

    async def nudge_action(
        self, action: CardAction, kind: str, rule_ids: Sequence[str], user_key: str
    ) -> None:
        """Count feedback, snoozes and opt-outs."""
        day = self._today()
        department = await self._department(action.sender)
        conversation_kind = action.conversation.kind
        activity_id = f"{action.conversation.conversation_id}:{action.activity_id}"
        if kind in ("helpful", "not_helpful"):
            self._recorder.record_feedback(
                day=day,
                conversation_kind=conversation_kind,
                department=department,
                rule_ids=rule_ids,
                helpful=kind == "helpful",
                user_key=user_key,
                activity_id=activity_id,
            )
        elif kind == "snooze":
            self._recorder.record_snooze(
                day=day, conversation_kind=conversation_kind, department=department, activity_id=activity_id
            )
        elif kind == "opt_out":
            for rule_id in rule_ids:
                self._recorder.record_opt_out(
                    day=day,
                    conversation_kind=conversation_kind,
                    department=department,
                    rule_id=rule_id,
                    activity_id=f"{activity_id}:{rule_id}",
                )
