"""Table tests for the small pure parts of the services: commands, the Japanese day, user keys."""

from __future__ import annotations

from datetime import datetime

import pytest

from bot.domain import ConversationRef, IncomingMessage, Person
from bot.services.commands import parse_command
from bot.services.nudges import _is_greeting_only, today_jst
from bot.services.stats_sink import looks_like_question
from bot.services.userkey import UserKeyer
from policy_rules import Finding


def message(text: str, kind: str = "personal", *, mentions_bot: bool = False) -> IncomingMessage:
    """A message as the edge would hand it over."""
    return IncomingMessage(
        activity_id="1",
        conversation=ConversationRef(conversation_id="c", kind=kind, service_url="https://x.example/"),  # type: ignore[arg-type]
        sender=Person("29:1a", "aad"),
        text=text,
        original_text=text,
        mentions_bot=mentions_bot,
    )


@pytest.mark.parametrize(
    ("text", "kind", "mention", "expected"),
    [
        ("ヘルプ", "personal", False, ("help", "")),
        ("help", "personal", False, ("help", "")),
        ("ＨＥＬＰ", "personal", False, ("help", "")),
        ("ルール", "personal", False, ("rules", "")),
        ("設定", "personal", False, ("settings", "")),
        ("  設定  ", "personal", False, ("settings", "")),
        ("締切延長 2026-12-20", "personal", False, ("campaign.extend", "2026-12-20")),
        ("締切", "personal", False, ("campaign.close", "")),
        ("キャンペーン開始 2026", "personal", False, ("campaign.start", "2026")),
        ("ルール", "channel", True, ("rules", "")),
        # not commands
        ("ルール", "channel", False, None),  # in a channel only with an @mention
        ("ルールを守りましょう", "personal", False, None),
        ("設定の仕方を教えてください", "personal", False, None),
        ("", "personal", False, None),
    ],
)
def test_commands(text: str, kind: str, mention: bool, expected: tuple[str, str] | None) -> None:
    command = parse_command(message(text, kind, mentions_bot=mention))
    assert (None if command is None else (command.name, command.argument)) == expected


@pytest.mark.parametrize(
    ("instant", "day"),
    [
        ("2026-11-24T14:59:59+00:00", "2026-11-24"),
        ("2026-11-24T15:00:00+00:00", "2026-11-25"),  # midnight in Japan
        ("2026-12-31T23:59:59+09:00", "2026-12-31"),
        ("2027-01-01T00:00:00+09:00", "2027-01-01"),
    ],
)
def test_today_is_the_day_in_japan(instant: str, day: str) -> None:
    assert today_jst(datetime.fromisoformat(instant)).isoformat() == day


def test_user_keys_are_stable_keyed_and_not_the_id() -> None:
    keyer = UserKeyer(b"0123456789abcdef-secret")
    other = UserKeyer(b"another-secret-0123456789")
    person = Person("29:1a", "11111111-2222-3333-4444-555555555555")
    assert keyer.key(person) == keyer.key(person)
    assert keyer.key(person) != other.key(person)
    assert person.aad_object_id not in keyer.key(person)
    assert keyer.key(Person("29:1a", None)) == keyer.key_of("29:1a")
    with pytest.raises(ValueError):
        UserKeyer(b"short")


@pytest.mark.parametrize(
    ("text", "spans", "expected"),
    [
        ("お疲れ様です。", [(0, 6)], True),
        ("お疲れ様です！！", [(0, 6)], True),
        ("お疲れ様です。資料を置きました。", [(0, 6)], False),
        ("", [], False),
    ],
)
def test_greeting_only(text: str, spans: list[tuple[int, int]], expected: bool) -> None:
    findings = [Finding("formulaic-greeting", "info", start, end, text[start:end]) for start, end in spans]
    assert _is_greeting_only(text, findings) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("会議室はどこですか", True),
        ("資料はありますか？", True),
        ("How do I share a file?", True),
        ("資料を置きました。", False),
        ("了解です", False),
        ("明日でしょうか。\n資料は後で送ります", True),  # a question ending a line, not the message
        ("行けませんか 。", True),  # spaces and 。 may follow the ending
        ("行けませんか　", True),
        ("確認してないか\n", True),
        ("ですかね", False),
        ("ＯＫ？", True),
        ("か", False),
        ("", False),
    ],
)
def test_questions(text: str, expected: bool) -> None:
    assert looks_like_question(text) is expected
