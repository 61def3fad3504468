"""Recognising the bot's commands (Japanese with English aliases) in a message."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from bot.domain import IncomingMessage

# command id -> words that call it (compared after NFKC and lower-casing)
COMMANDS: dict[str, tuple[str, ...]] = {
    "help": ("ヘルプ", "help", "使い方", "?", "？"),
    "rules": ("ルール", "rules", "ルール一覧"),
    "settings": ("設定", "settings"),
    "campaign.start": ("キャンペーン開始", "campaign start", "wg開始"),
    "campaign.status": ("状況", "status", "提出状況"),
    "campaign.export": ("エクスポート", "export"),
    "campaign.extend": ("締切延長", "extend"),
    "campaign.close": ("締切", "close", "受付終了"),
    "campaign.remind": ("リマインド", "remind"),
}

_LOOKUP: dict[str, str] = {}
for _command, _words in COMMANDS.items():
    for _word in _words:
        _LOOKUP[unicodedata.normalize("NFKC", _word).lower()] = _command


@dataclass(frozen=True, slots=True)
class Command:
    """A recognised command and the words after it (e.g. a date for 締切延長)."""

    name: str
    argument: str = ""


def parse_command(message: IncomingMessage) -> Command | None:
    """The command in a 1:1 chat or an @mention of the bot, else None (an ordinary message)."""
    if message.conversation.kind != "personal" and not message.mentions_bot:
        return None
    text = unicodedata.normalize("NFKC", message.text).strip().lower()
    if not text or len(text) > 200:
        return None
    text = " ".join(text.replace("/", " ").split())
    # the longest command word that starts the message wins ("キャンペーン開始 2026" -> campaign.start)
    for word in sorted(_LOOKUP, key=len, reverse=True):
        if text == word or text.startswith(word + " "):
            return Command(_LOOKUP[word], text[len(word) :].strip())
    return None
