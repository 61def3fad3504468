"""The private nudge card shown to the sender of a message, and what it turns into after a click."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from cards import verbs
from cards._build import Element, action_set, card, container, execute, heading, jst, open_url, subtle, text

# How to act in Teams, for the rules where the suggestion needs a concrete gesture.
HOW_IN_TEAMS: dict[str, str] = {
    "written-ack": "メッセージにマウスを合わせ（スマートフォンは長押し）、「いいね！」👍 を選ぶだけで伝わります。",
    "personal-info": (
        "メッセージにマウスを合わせて「…」（その他のオプション）→「編集」で該当部分を消すか、"
        "「…」→「削除」でメッセージを削除してください。"
    ),
}


@dataclass(frozen=True, slots=True)
class NudgeItem:
    """One finding, worded from the rule's YAML; ``quote`` holds only the matched words, never personal data."""

    rule_id: str
    title: str
    why: str  # the policy's own words
    policy_section: str  # e.g. 2. コミュニケーション～情報の共有《楽にする》いいね！でスマートに
    suggestion: str
    quote: str | None = None
    howto_title: str | None = None
    howto_url: str | None = None


@dataclass(frozen=True, slots=True)
class NudgeView:
    """Everything one nudge card shows: all findings of one message."""

    nudge_id: str
    items: tuple[NudgeItem, ...]


def _section(item: NudgeItem, nudge_id: str, first: bool) -> Element:
    parts: list[Element] = [heading(f"💡 {item.title}", size="Default")]
    if item.quote:
        parts.append(text(f"気づいたこと：「{item.quote}」"))
    parts.append(text(f"なぜ：{item.why}"))
    parts.append(subtle(f"出典：前橋市コミュニケーションポリシー {item.policy_section}"))
    parts.append(text(f"こうしてみませんか：{item.suggestion}"))
    how = HOW_IN_TEAMS.get(item.rule_id)
    if how:
        parts.append(text(f"やり方：{how}", isSubtle=True))
    buttons: list[Element] = []
    if item.howto_url:
        buttons.append(open_url(f"使い方：{item.howto_title or 'Microsoft 365の使い方'}", item.howto_url))
    buttons.append(
        execute(
            "このヒントを表示しない",
            verbs.NUDGE_OPT_OUT,
            {"nudge_id": nudge_id, "rule_id": item.rule_id},
        )
    )
    parts.append(action_set(buttons))
    return container(parts, separator=not first, spacing="Medium")


def nudge_card(nudge: NudgeView) -> dict[str, Any]:
    """One card for all findings of one message, with feedback, snooze and opt-out buttons."""
    if not nudge.items:
        raise ValueError("a nudge needs at least one finding")
    rule_ids = [item.rule_id for item in nudge.items]
    common = {"nudge_id": nudge.nudge_id, "rule_ids": rule_ids}
    body: list[Element] = [subtle("あなただけに表示しています。書き込んだ内容は保存していません。")]
    body += [_section(item, nudge.nudge_id, index == 0) for index, item in enumerate(nudge.items)]
    actions = [
        execute("👍 役に立った", verbs.NUDGE_HELPFUL, common),
        execute("違うと思う", verbs.NUDGE_NOT_HELPFUL, common),
        execute("今日はもう表示しない", verbs.NUDGE_SNOOZE_TODAY, common),
    ]
    summary = "、".join(item.title for item in nudge.items)
    return card(body, actions, fallbackText=f"コミュニケーションポリシーのヒント：{summary}")


AckKind = Literal["helpful", "not_helpful", "snoozed", "opted_out", "expired"]


def nudge_ack_card(
    kind: AckKind, *, rule_title: str | None = None, snoozed_until: datetime | None = None
) -> dict[str, Any]:
    """The short confirmation a nudge card turns into after a button was clicked."""
    if kind == "helpful":
        lines = ["フィードバックありがとうございます！", "これからも気づいたときにお知らせします。"]
    elif kind == "not_helpful":
        lines = [
            "フィードバックありがとうございます。",
            "いただいた声はヒントの見直しに使います（メッセージの内容は保存していません）。",
        ]
    elif kind == "snoozed":
        until = f"{jst(snoozed_until)} から" if snoozed_until else "明日から"
        lines = ["今日はもうヒントを表示しません。", f"{until}また表示します。"]
    elif kind == "opted_out":
        title = f"「{rule_title}」" if rule_title else "このヒント"
        lines = [
            f"{title}は今後表示しません。",
            "元に戻すときは、ボットとの個人チャットで「設定」と送ってください。",
        ]
    else:
        lines = ["このヒントはもう閉じています。ありがとうございました。"]
    body = [text(lines[0], weight="Bolder"), *[text(line, isSubtle=True) for line in lines[1:]]]
    return card(body, fallbackText=lines[0])


def nudge_withdrawn_card() -> dict[str, Any]:
    """The thank-you a nudge turns into when an edit fixed the message."""
    return card(
        [
            text("メッセージを直していただき、ありがとうございます！ 🙌", weight="Bolder"),
            text("このヒントは閉じました。", isSubtle=True),
        ],
        fallbackText="メッセージを直していただき、ありがとうございます！",
    )
