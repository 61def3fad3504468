"""Service-level fixtures: real storage (SQLite file and PostgreSQL), a recording sender, a clock.

The database fixtures are the storage tests' own (a migrated SQLite copy per test; one
PostgreSQL database per session, emptied before each test, skipped when PostgreSQL is absent).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.domain import CardAction, ConversationRef, Delivery, IncomingMessage, InvokeResult, Outgoing, Person
from bot.ports import SendResult
from bot.services.actions import ActionRegistry
from bot.services.commands import parse_command
from bot.services.nominations import CommandHandler, NominationConfig, NominationService
from bot.storage import Database
from tests.schemas.check import assert_valid_card
from tests.storage.conftest import (  # noqa: F401  (fixtures, re-exported for pytest)
    db,
    postgres_databases,
    postgres_url,
    replica,
    sqlite_template,
)
from wg.catalogue import Catalogue, load_catalogue
from wg.departments import Department, DepartmentDirectory, load_departments

ADMIN = "aaaaaaaa-0000-4000-8000-000000000001"
OTHER_ADMIN = "aaaaaaaa-0000-4000-8000-000000000002"
STAFF = "bbbbbbbb-0000-4000-8000-000000000009"
TENANT = "tenant-maebashi"
SERVICE_URL = "https://smba.example.test/jp/"
CHANNEL_ID = "19:wg-announcements@thread.tacv2"
START = datetime(2026, 4, 20, 1, 0, tzinfo=UTC)  # 10:00 JST


def contact_of(index: int) -> str:
    """The Entra id of department number ``index``'s contact in the test directory."""
    return f"cccccccc-0000-4000-8000-{index:012d}"


SECOND_CONTACT_D004 = "dddddddd-0000-4000-8000-000000000004"


def test_directory() -> DepartmentDirectory:
    """The shipped ~80 departments, each with one contact; 情報政策課 (D004) with two."""
    departments = []
    for index, department in enumerate(load_departments(), start=1):
        contacts: tuple[str, ...] = (contact_of(index),)
        if department.code == "D004":
            contacts += (SECOND_CONTACT_D004,)
        departments.append(Department(department.code, department.name, contacts))
    return DepartmentDirectory(departments)


DIRECTORY = test_directory()


def contacts(code: str) -> tuple[str, ...]:
    """The contacts of a department in the test directory."""
    found = DIRECTORY.get(code)
    assert found is not None
    return found.contacts


@pytest.fixture(params=["sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database: SQLite unless a test asks for both with ``ON_BOTH_DATABASES``."""
    if request.param == "sqlite":
        path = tmp_path / "bot.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    return str(request.getfixturevalue("postgres_url"))


# The storage-heavy scenarios (submissions, idempotency, reminders across replicas) also run on
# PostgreSQL; the rest is storage-independent service logic and stays on SQLite to keep it fast.
ON_BOTH_DATABASES = pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


class Clock:
    """A settable clock."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


_VALIDATED: set[str] = set()


def check_card(card: dict[str, Any]) -> None:
    """``assert_valid_card``, once per card shape (inputs and buttons): the schema check is slow
    and a campaign start draws ~80 cards that differ only in their texts."""
    shape = json.dumps(
        [
            sorted(inputs(card)),
            [a.get("verb") or a.get("url") for a in card.get("actions", [])],
            len(card["body"]),
        ]
    )
    if shape not in _VALIDATED:
        assert_valid_card(card)
        _VALIDATED.add(shape)


@dataclass
class RecordingSender:
    """Implements the sender port by recording; the cards are checked against the Teams schema."""

    sent: list[Outgoing] = field(default_factory=list)
    fail_for: set[str] = field(default_factory=set)  # recipient aad ids whose sends fail

    def _record(self, outgoing: Outgoing) -> bool:
        if outgoing.card is not None:
            check_card(outgoing.card)
        self.sent.append(outgoing)
        recipient = outgoing.recipient.aad_object_id if outgoing.recipient else None
        return recipient not in self.fail_for

    async def send(self, outgoing: Outgoing) -> SendResult:
        ok = self._record(outgoing)
        return SendResult("sent-1" if ok else None, outgoing.delivery, ok=ok, status=201 if ok else 403)

    def enqueue(self, outgoing: Outgoing) -> bool:
        self._record(outgoing)
        return True

    def personal_to(self, aad_id: str) -> list[Outgoing]:
        """What was sent to one person's 1:1 chat."""
        return [
            o
            for o in self.sent
            if o.delivery is Delivery.PERSONAL
            and o.recipient is not None
            and o.recipient.aad_object_id == aad_id
        ]

    def clear(self) -> None:
        self.sent.clear()


class Commands:
    """Stands in for BotService.add_command: routes parsed commands to the registered handlers."""

    def __init__(self) -> None:
        self.handlers: dict[str, CommandHandler] = {}

    def add_command(self, name: str, handler: CommandHandler) -> None:
        self.handlers[name] = handler


ADMIN_CHAT = ConversationRef("a:admin-chat", "personal", SERVICE_URL, tenant_id=TENANT, bot_id="28:bot")


def chat_of(aad_id: str) -> ConversationRef:
    """A person's 1:1 chat with the bot."""
    return ConversationRef(f"a:chat-{aad_id}", "personal", SERVICE_URL, tenant_id=TENANT, bot_id="28:bot")


CHANNEL = ConversationRef(
    CHANNEL_ID,
    "channel",
    SERVICE_URL,
    tenant_id=TENANT,
    bot_id="28:bot",
    team_id="19:team",
    channel_id=CHANNEL_ID,
)


@dataclass
class Harness:
    """The service on real storage, with helpers to talk to it like Teams would."""

    db: Database
    service: NominationService
    actions: ActionRegistry
    commands: Commands
    sender: RecordingSender
    clock: Clock
    catalogue: Catalogue
    _ids: int = 0

    def next_id(self) -> str:
        self._ids += 1
        return f"activity-{self._ids}"

    async def say(
        self, text: str, *, sender: str = ADMIN, conversation: ConversationRef | None = None
    ) -> list[Outgoing]:
        """Send a message as ``sender``; returns the answer (after background sends finished)."""
        conversation = conversation or (ADMIN_CHAT if sender == ADMIN else chat_of(sender))
        message = IncomingMessage(
            activity_id=self.next_id(),
            conversation=conversation,
            sender=Person(f"29:{sender}", sender, "職員"),
            text=text,
            original_text=text,
            mentions_bot=conversation.kind != "personal",
        )
        command = parse_command(message)
        assert command is not None, text
        answer = list(await self.commands.handlers[command.name](message, command))
        await self.service.drain()
        for outgoing in answer:
            if outgoing.card is not None:
                check_card(outgoing.card)
        return answer

    async def click(
        self,
        verb: str,
        data: dict[str, Any],
        *,
        sender: str,
        activity_id: str | None = None,
        conversation: ConversationRef | None = None,
    ) -> tuple[InvokeResult, list[Outgoing]]:
        """An Action.Execute from ``sender`` with ``data`` (the card's data plus the inputs)."""
        action = CardAction(
            activity_id=activity_id or self.next_id(),
            conversation=conversation or chat_of(sender),
            sender=Person(f"29:{sender}", sender, "前橋 太郎"),
            verb=verb,
            data={"verb": verb, **data},
            card_activity_id="card-1",
        )
        result, outgoings = await self.actions.dispatch(action)
        if result.card is not None:
            check_card(result.card)
        for outgoing in outgoings:
            if outgoing.card is not None:
                check_card(outgoing.card)
        return result, list(outgoings)


def make_service(
    database: Database, sender: RecordingSender, clock: Callable[[], datetime], **config: Any
) -> NominationService:
    """A service wired the way the composition should wire it."""
    admins = (ADMIN, OTHER_ADMIN)
    return NominationService(
        nominations=database.nominations,
        conversations=database.conversations,
        catalogue=load_catalogue(),
        directory=DIRECTORY,
        is_admin=lambda aad: aad in admins,
        sender=sender,
        job_runs=database.job_runs,
        config=NominationConfig(
            announcement_channel_id=CHANNEL_ID, export_base_url="https://bot.example.test", **config
        ),
        clock=clock,
        admin_ids=lambda: admins,
    )


@pytest.fixture
async def harness(db: Database) -> AsyncIterator[Harness]:  # noqa: F811
    """A started service on an empty, migrated database, the channel known to the bot."""
    sender = RecordingSender()
    clock = Clock(START)
    service = make_service(db, sender, clock)
    actions, commands = ActionRegistry(), Commands()
    service.register(actions, commands)
    await service.start()
    await db.conversations.remember(CHANNEL)
    yield Harness(db, service, actions, commands, sender, clock, load_catalogue())
    await service.drain()


def first_submit_data(card: dict[str, Any]) -> dict[str, Any]:
    """The data of a card's submit button (campaign, department or WG, and the form nonce)."""
    for action in card.get("actions", []):
        if action.get("type") == "Action.Execute" and action["verb"].endswith(".submit"):
            return {k: v for k, v in action["data"].items() if k != "verb"}
    raise AssertionError("the card has no submit button")


def inputs(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every input of a card by id."""
    found: dict[str, dict[str, Any]] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if str(node.get("type", "")).startswith("Input.") and "id" in node:
                found[node["id"]] = node
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card)
    return found


def error_after(card: dict[str, Any], input_id: str) -> str | None:
    """The attention text placed right after the input ``input_id`` (how errors show), or None."""
    result: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for index, item in enumerate(node):
                if isinstance(item, dict) and item.get("id") == input_id and index + 1 < len(node):
                    following = node[index + 1]
                    if following.get("type") == "TextBlock" and following.get("color") == "attention":
                        result.append(following["text"])
                walk(item)
        elif isinstance(node, dict):
            for value in node.values():
                walk(value)

    walk(card)
    return result[0] if result else None


def card_text(card: dict[str, Any] | None) -> str:
    """All TextBlock texts and fact values of a card, joined."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "TextBlock":
                parts.append(str(node.get("text", "")))
            if node.get("type") == "FactSet":
                parts.extend(f"{f['title']}:{f['value']}" for f in node["facts"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card or {})
    return "\n".join(parts)


def pick(outgoings: Sequence[Outgoing], kind: str) -> list[Outgoing]:
    """Outgoings into conversations of one kind."""
    return [o for o in outgoings if o.conversation.kind == kind]
