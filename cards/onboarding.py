"""Welcome, help, rules and personal settings cards."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from cards import verbs
from cards._build import Element, action_set, card, container, execute, heading, jst, open_url, subtle, text


@dataclass(frozen=True, slots=True)
class HowtoTopic:
    """A page of the city portal's 「Microsoft365の使い方」 (OneNote) section."""

    key: str
    title: str


# The twelve how-to topics of the portal, as the seed lists them (ツールの活用（Microsoft365の使い方）).
HOWTO_TOPICS: tuple[HowtoTopic, ...] = (
    HowtoTopic("intro", "はじめに（利用にあたって）"),
    HowtoTopic("chat", "チャット (Teams)"),
    HowtoTopic("web-meeting", "ウェブ会議 (Teams)"),
    HowtoTopic("mail", "メール (Outlook)"),
    HowtoTopic("calendar", "カレンダー (Outlook)"),
    HowtoTopic("transcription", "文字起こし (Teams、Word)"),
    HowtoTopic("co-editing", "共同編集 (Excel)"),
    HowtoTopic("sticky-notes", "ふせん出し (Whiteboard)"),
    HowtoTopic("inquiry-answers", "問い合わせ回答 (スクリーンキャプチャ)"),
    HowtoTopic("survey", "アンケート (Forms)"),
    HowtoTopic("manual", "マニュアル作成 (OneNote)"),
    HowtoTopic("video", "動画作成・共有 (Stream)"),
)
HOWTO_BY_KEY: dict[str, HowtoTopic] = {topic.key: topic for topic in HOWTO_TOPICS}

# Which how-to page helps with each policy rule; the service may override it from settings.
DEFAULT_RULE_HOWTO: dict[str, str] = {
    "formulaic-greeting": "chat",
    "written-ack": "chat",
    "chat-before-phone": "chat",
    "share-know-how": "manual",
    "personal-info": "chat",
    "transcribe-audio": "transcription",
}

POLICY_PARTS: tuple[str, ...] = (
    "1. ミッション・ビジョン・バリューを自分事に",
    "2. コミュニケーション～情報の共有",
    "3. ツールの活用～オンボーディング",
)


class RuleSummary(NamedTuple):
    """A rule as the ルール command lists it."""

    rule_id: str
    title: str
    explanation: str
    enabled: bool


def _command_buttons() -> list[Element]:
    return [
        execute("ヘルプ", verbs.COMMAND_HELP),
        execute("ルール一覧", verbs.COMMAND_RULES),
        execute("設定", verbs.COMMAND_SETTINGS),
    ]


def _howto_lines(howto_urls: Mapping[str, str]) -> str:
    lines = []
    for topic in HOWTO_TOPICS:
        url = howto_urls.get(topic.key)
        lines.append(f"- [{topic.title}]({url})" if url else f"- {topic.title}")
    return "\n".join(lines)


def welcome_card(
    howto_urls: Mapping[str, str], *, portal_url: str | None = None, policy_url: str | None = None
) -> dict[str, Any]:
    """The card sent when the app is added: what the bot does and doesn't, the policy, the portal links."""
    body: list[Element] = [
        heading("こんにちは！コミュニケーションポリシーのお手伝いをします", size="Large"),
        text(
            "前橋市コミュニケーションポリシーに沿った、気持ちよく速いやり取りを一緒に進めるためのボットです。"
        ),
        container(
            [
                text("できること", weight="Bolder"),
                text(
                    "- 定形挨拶や「承知しました」だけの返信などに気づいたら、**あなただけに**そっとヒントを出します\n"
                    "- 個人情報が共有の場に書かれていたら、削除や編集の方法をお知らせします\n"
                    "- WGメンバーの推薦・応募をカードで受け付けます"
                ),
            ]
        ),
        container(
            [
                text("しないこと", weight="Bolder"),
                text(
                    "- 書き込まれた内容は保存しません（気づいたルールの種類と回数だけを記録します）\n"
                    "- ほかの人にヒントを見せたり、上司に報告したりしません\n"
                    "- メッセージを勝手に書き換えたり削除したりしません"
                ),
            ]
        ),
        container([text("ポリシーの3つの柱", weight="Bolder"), text("\n\n".join(POLICY_PARTS))]),
        container(
            [
                text("オンボーディング：Microsoft365の使い方", weight="Bolder"),
                text(_howto_lines(howto_urls)),
            ]
        ),
        subtle(
            "ヒントが合わないときは、カードの「違うと思う」や「このヒントを表示しない」を押してください。"
        ),
    ]
    links = []
    if portal_url:
        links.append(open_url("全庁ポータル", portal_url))
    if policy_url:
        links.append(open_url("コミュニケーションポリシー", policy_url))
    if links:
        body.append(action_set(links))
    return card(
        body, _command_buttons(), fallbackText="コミュニケーションポリシーのお手伝いをするボットです。"
    )


def help_card(admin_commands: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
    """The ヘルプ card: the commands, plus the admin commands when the reader is an admin."""
    commands = [
        ("ヘルプ（help）", "この説明を表示します"),
        ("ルール（rules）", "いま有効なヒントのルールを一覧にします"),
        ("設定（settings）", "あなたの「今日は表示しない」や非表示にしたヒントを確認・元に戻せます"),
    ]
    body: list[Element] = [
        heading("使い方"),
        text("個人チャットで送るか、チャネルでは @メンション してから送ってください。"),
        {"type": "FactSet", "facts": [{"title": c, "value": d} for c, d in commands]},
    ]
    if admin_commands:
        body.append(text("事務局向けコマンド", weight="Bolder"))
        body.append({"type": "FactSet", "facts": [{"title": c, "value": d} for c, d in admin_commands]})
    body.append(subtle("書き込まれた内容は保存していません。"))
    return card(body, _command_buttons(), fallbackText="使い方：ヘルプ・ルール・設定")


def rules_card(rules: Sequence[tuple[str, str, str, bool]]) -> dict[str, Any]:
    """The ルール card: each rule with a one-line explanation and whether it is on."""
    body: list[Element] = [heading("ヒントのルール")]
    if not rules:
        body.append(text("いま有効なルールはありません。"))
    for rule_id, title, explanation, enabled in (RuleSummary(*rule) for rule in rules):
        state = "有効" if enabled else "停止中"
        body.append(
            container(
                [text(f"**{title}**（{state}）"), text(explanation, isSubtle=True, spacing="None")],
                id=f"rule-{rule_id}",
                separator=True,
            )
        )
    body.append(subtle("非表示にしたヒントは「設定」で元に戻せます。"))
    return card(body, [execute("設定", verbs.COMMAND_SETTINGS)], fallbackText="ヒントのルール一覧")


def settings_card(
    snoozed_until: datetime | None, opted_out_rules: Sequence[tuple[str, str]]
) -> dict[str, Any]:
    """The 設定 card: today's snooze and the hidden rules, each with a button to undo it."""
    body: list[Element] = [heading("あなたの設定")]
    if snoozed_until is not None:
        body.append(text(f"ヒントを {jst(snoozed_until)} まで表示しないようにしています。"))
        body.append(action_set([execute("今すぐ表示を再開する", verbs.SETTINGS_UNSNOOZE)]))
    else:
        body.append(text("ヒントはいつも通り表示されます。"))
    if opted_out_rules:
        body.append(text("非表示にしたヒント", weight="Bolder"))
        for rule_id, title in opted_out_rules:
            body.append(
                {
                    "type": "ColumnSet",
                    "columns": [
                        {"type": "Column", "width": "stretch", "items": [text(title)]},
                        {
                            "type": "Column",
                            "width": "auto",
                            "items": [
                                action_set(
                                    [execute("また表示する", verbs.SETTINGS_OPTIN, {"rule_id": rule_id})]
                                )
                            ],
                        },
                    ],
                }
            )
    else:
        body.append(text("非表示にしたヒントはありません。", isSubtle=True))
    return card(body, fallbackText="あなたの設定")
