"""Plain data crossing the engine's boundary: what a message is and what a rule found."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

ConversationType = Literal["channel", "groupChat", "personal"]
CONVERSATION_TYPES: tuple[ConversationType, ...] = ("channel", "groupChat", "personal")


@dataclass(frozen=True, slots=True)
class MessageInput:
    """A message to evaluate: its text, where it was posted, and its attachments (contentType, name)."""

    text: str
    conversation_type: ConversationType = "channel"
    is_reply: bool = False
    attachments: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Finding:
    """One rule breach: offsets into the original text and words safe to show back to the sender."""

    rule_id: str
    severity: str
    start: int
    end: int
    quote: str
    category: str | None = None


class Hit(NamedTuple):
    """What a detector reports: a span of the matching view (or of nothing, for attachments).

    ``label`` replaces the quoted words when they must not be shown (personal data);
    ``view_span`` False means start/end are already original offsets. A NamedTuple because
    detectors create these on the hot path.
    """

    start: int
    end: int
    label: str | None = None
    category: str | None = None
    view_span: bool = True
