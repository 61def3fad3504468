"""Pydantic models of a rule file. Unknown keys are refused everywhere.

The detector options are a discriminated union on ``kind`` built from the registered kinds,
so a new kind needs no change here.
"""

from __future__ import annotations

import re
import string
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from policy_rules import kinds as _kinds  # noqa: F401  (registers the built-in kinds)
from policy_rules.kinds import KindOptions
from policy_rules.model import CONVERSATION_TYPES, ConversationType
from policy_rules.normalize import fold_pattern
from policy_rules.registry import DETECTOR_KINDS

# The 12 topics of 「Microsoft365の使い方」 (seed: ツールの活用)
HOWTO_TOPICS: tuple[str, ...] = (
    "はじめに",
    "チャット (Teams)",
    "ウェブ会議 (Teams)",
    "メール (Outlook)",
    "カレンダー (Outlook)",
    "文字起こし (Teams、Word)",
    "共同編集 (Excel)",
    "ふせん出し (Whiteboard)",
    "問い合わせ回答 (スクリーンキャプチャ)",
    "アンケート (Forms)",
    "マニュアル作成 (OneNote)",
    "動画作成・共有 (Stream)",
)
NUDGE_PLACEHOLDERS = frozenset({"quote", "title", "rule_id", "category", "policy_section", "howto_topic"})
RULE_ID_RE = re.compile(r"^[a-z][a-z0-9-]{1,63}$")

if TYPE_CHECKING:
    DetectorOptions = KindOptions
else:
    # a discriminated union on `kind` over every registered kind
    DetectorOptions = Annotated[
        Union[tuple(kind.options_model for kind in DETECTOR_KINDS.values())],  # noqa: UP007
        Field(discriminator="kind"),
    ]


class Strict(BaseModel):
    """Base: unknown keys refused, values immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class AllowList(Strict):
    """Values a rule never reports (public numbers, the city hall's address, own domains)."""

    phrases: list[str] = Field(default_factory=list)
    phone_numbers: list[str] = Field(default_factory=list)
    addresses: list[str] = Field(default_factory=list)
    email_domains: list[str] = Field(default_factory=list)


class Nudge(Strict):
    """Japanese wording of the nudge; named placeholders such as {quote} are filled per finding."""

    title: str
    body: str
    suggestion: str

    @field_validator("title", "body", "suggestion")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        try:
            names = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
        except ValueError as exc:
            raise ValueError(f"波括弧の対応が不正です (unbalanced braces): {exc}") from exc
        unknown = sorted(n for n in names if n not in NUDGE_PLACEHOLDERS)
        if unknown:
            raise ValueError(
                f"未知のプレースホルダ (unknown placeholder): {', '.join(unknown)}; "
                f"使えるもの (allowed): {', '.join(sorted(NUDGE_PLACEHOLDERS))}"
            )
        return value


class Attachment(Strict):
    """An example attachment."""

    contentType: str
    name: str = ""


class Example(Strict):
    """An example message; plain strings in YAML become Example(text=...)."""

    text: str = ""
    type: ConversationType | None = None
    reply: bool = False
    attachments: list[Attachment] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        return {"text": value} if isinstance(value, str) else value


class Examples(Strict):
    """Texts that must fire the rule and texts that must not."""

    fire: list[Example] = Field(default_factory=list)
    no_fire: list[Example] = Field(default_factory=list)


class RuleSpec(Strict):
    """One rule as admins write it."""

    id: str
    title_ja: str
    # a short name for the dashboard's lists and the weekly digest (title_ja when absent)
    short_title_ja: str | None = Field(default=None, min_length=1, max_length=24)
    explanation_ja: str
    policy_section: str
    enabled: bool = True
    severity: Literal["info", "suggestion", "warning"] = "suggestion"
    conversation_types: list[ConversationType] = Field(
        default_factory=lambda: list(CONVERSATION_TYPES), min_length=1
    )
    delivery: Literal["targeted", "thread", "log-only"] = "targeted"
    howto_topic: str | None = None
    detectors: list[DetectorOptions] = Field(min_length=1)
    unless_any: list[str] = Field(default_factory=list)
    skip_quoted: bool = True
    allow: AllowList = Field(default_factory=AllowList)
    nudge: Nudge
    examples: Examples = Field(default_factory=Examples)

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not RULE_ID_RE.match(value):
            raise ValueError(
                "id は英小文字・数字・ハイフンで書きます (id must be lowercase letters, digits, hyphens)"
            )
        return value

    @field_validator("howto_topic")
    @classmethod
    def _topic_known(cls, value: str | None) -> str | None:
        if value is not None and value not in HOWTO_TOPICS:
            raise ValueError(f"howto_topic は次のいずれかです (must be one of): {' / '.join(HOWTO_TOPICS)}")
        return value

    @field_validator("unless_any", "allow")
    @classmethod
    def _regexes_compile(cls, value: Any) -> Any:
        patterns = value if isinstance(value, list) else value.phrases
        for index, pattern in enumerate(patterns):
            try:
                re.compile(fold_pattern(pattern))
            except re.error as exc:
                raise ValueError(f"正規表現が不正です (invalid regular expression) #{index}: {exc}") from exc
        return value


class RuleFile(Strict):
    """A YAML rule file: a list of rules."""

    rules: list[RuleSpec] = Field(default_factory=list)
