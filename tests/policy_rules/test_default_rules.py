"""The six default rules on the hard cases their definitions name (texts written for these tests)."""

from __future__ import annotations

import pytest

from policy_rules import MessageInput, RuleSet
from policy_rules.schema import HOWTO_TOPICS

C, G, P = "channel", "groupChat", "personal"


def fired(rules: RuleSet, rule_id: str, text: str, conversation_type: str = G) -> bool:
    message = MessageInput(text=text, conversation_type=conversation_type)  # type: ignore[arg-type]
    return rule_id in rules.fired_rule_ids(message)


GREETING = [
    ("お疲れさまでございます。本題です。", True),
    ("おつかれさまです！", True),
    ("お世話様です、例の件です", True),
    ("いつもお世話に\nなっております。本文", True),
    ("突然のメッセージで失礼します。", True),
    ("保険年金課の高橋です。\n来週の窓口当番の件です。", True),
    ("<at>佐藤</at>\n債権管理課の中村でございます。\n督促の件です。", True),
    ("佐藤様\n\n見積書を添付いたします。", True),
    ("各支所長各位\n連絡事項です。", True),
    ("本文です。\n＝＝＝＝＝＝\n税務課 課税係 木村\n＝＝＝＝＝＝", True),
    ("本文です。\n税務課 課税係 木村\nTEL 027-000-0000", True),
    ("「お疲れ様です」から書き始める必要はありません", False),
    ("お疲れ様ですは省略でOKです", False),
    ("研修の講師、お疲れ様でした！", False),
    ("お疲れ様会の出欠をとります", False),
    ("資料を送付します。ご確認よろしくお願いします。", False),
    ("よろしくお願いします。会場は5階の大会議室です。", False),
    ("本文です。\n税務課 木村", False),
    ("集計結果です。\n総務課の集計結果です。", False),
    ("佐藤様の申請は受理済みです。", False),
    ("関係各位への周知をお願いします。", False),
]


@pytest.mark.parametrize(("text", "expected"), GREETING)
def test_formulaic_greeting(default_rules: RuleSet, text: str, expected: bool) -> None:
    assert fired(default_rules, "formulaic-greeting", text) is expected


ACK = [
    ("承知しました", True),
    ("しょうちしました！", True),
    ("了解っす", True),
    ("りょ", True),
    ("ＯＫ👌", True),
    ("おっけーです", True),
    ("はい、承知いたしました。何卒よろしくお願いいたします。", True),
    ("お願いします", True),
    ("佐藤さん、ありがとうございます！助かります😊", True),
    ("お疲れ様です。確認しました。", True),
    ("拝承", True),
    ("承りました", True),
    ("了解です、ただ一点だけ質問です", False),
    ("承知しました。では明日までに直します", False),
    ("確認します", False),
    ("対応します！", False),
    ("👍", False),
    ("分かりやすかったです、ありがとうございます", False),
    ("ありがとうございます、15時でお願いします", False),
    ("「了解」だけの返信は控えましょう", False),
]


@pytest.mark.parametrize(("text", "expected"), ACK)
def test_written_ack(default_rules: RuleSet, text: str, expected: bool) -> None:
    for conversation_type in (C, G, P):
        assert fired(default_rules, "written-ack", text, conversation_type) is expected


PHONE = [
    ("お電話ください", True),
    ("でんわください", True),
    ("電話もらえますか？", True),
    ("折り返しお電話いただけると助かります", True),
    ("後ほど電話します", True),
    ("電話で話しましょう", True),
    ("電話で説明させてください", True),
    ("内線ください", True),
    ("TELください", True),
    ("何かあれば 090-0000-0000 へどうぞ", True),
    ("内線1234までどうぞ", True),
    ("私の携帯は080-0000-0000です。何かあればどうぞ。", True),
    # a number then いつでも…電話: once dropped by a plain-word prefilter that lacked these words
    ("027-123-4567、いつでも電話してね", True),
    ("内線1234、いつでもお電話を", True),
    ("【至急】お電話ください", False),
    ("緊急のため電話で話しましょう", False),
    ("大至急、内線ください", False),
    ("電話対応マニュアルを改訂しました", False),
    ("代表電話の番号が変わります", False),
    ("先ほど財政課から電話がありました", False),
    ("昨日電話で話した件です", False),
    ("「お電話ください」はなるべく使わないで", False),
    ("内線は1234です", False),
    ("本文\n総務課 山田\n内線 1234", False),
]


@pytest.mark.parametrize(("text", "expected"), PHONE)
def test_chat_before_phone(default_rules: RuleSet, text: str, expected: bool) -> None:
    assert fired(default_rules, "chat-before-phone", text) is expected


KNOW_HOW = [
    ("Teamsで会議を予約するやり方を教えてください", True),
    ("文書管理システムで差し戻すにはどうすればいいですか", True),
    ("旅費規程の最新版ってどこで見られますか？", True),
    ("住民票の交付手順を教えていただけますか", True),
    ("市民の方に制度をどう説明すればいいでしょうか", True),
    ("Excelでの並べ替えは\n①範囲を選択\n②データ→並べ替え\nでできます", True),
    ("来週の打合せ、火曜でどうですか？", False),
    ("週末は何してました？", False),
    ("母の通院の付き添いで休暇を取りたいのですが、どうすればいいですか", False),
    ("人事評価の目標の書き方を個別に相談したいです", False),
    ("係長の言い方がきつくて、どう接すればいいか悩んでいます", False),
    ("資料は共有フォルダの「総務」→「会議」に置きました", False),
    # numbers in an ordinary request are not steps (①② fold to digits; 0–2 used to count as steps)
    ("2025年度の予算資料を確認してください。10時までに2部印刷して持ってきてください。", False),
    ("会議室は2階です。3時に来てください。", False),
    ("申請の流れは\n1 申請書をダウンロード\n2 記入して課長に提出\nでできます", True),
]


@pytest.mark.parametrize(("text", "expected"), KNOW_HOW)
def test_share_know_how(default_rules: RuleSet, text: str, expected: bool) -> None:
    assert fired(default_rules, "share-know-how", text, P) is expected
    assert not fired(default_rules, "share-know-how", text, C)
    assert not fired(default_rules, "share-know-how", text, G)


PERSONAL = [
    ("申請者のマイナンバーは 1234 5678 9018 です", True),
    ("連絡先 080-2222-3333", True),
    ("連絡先 ０８０ー００００ー００００", True),
    ("携帯08000000000に", True),
    ("相手先 03-0000-0000", True),
    ("生年月日は昭和50年1月2日", True),
    ("住所は前橋市本町1-2-3です", True),
    ("口座番号: 1234567", True),
    ("a.b@example.com 宛て", True),
    ("文書番号 1234 5678 9012 の件", False),
    ("代表は027-224-1111です", False),
    ("会場は前橋市大手町二丁目12番1号", False),
    ("kikaku@city.maebashi.gunma.jp へ", False),
    ("新しい内線は6789になりました", False),
    ("平成12年生まれ", False),
    ("助成額 3,210,000円", False),
    ("0120-000-000 まで", False),
]


@pytest.mark.parametrize(("text", "expected"), PERSONAL)
def test_personal_info(default_rules: RuleSet, text: str, expected: bool) -> None:
    assert fired(default_rules, "personal-info", text, C) is expected
    assert fired(default_rules, "personal-info", text, G) is expected
    assert not fired(default_rules, "personal-info", text, P)


def test_personal_info_finding_never_quotes_the_datum(default_rules: RuleSet) -> None:
    text = "連絡先は090-0000-1234、メールは x@example.com です"
    findings = [f for f in default_rules.evaluate(MessageInput(text)) if f.rule_id == "personal-info"]
    assert {f.quote for f in findings} == {"電話番号", "メールアドレス"}
    for finding in findings:
        assert "0000" not in finding.quote and "@" not in finding.quote
    rendered = default_rules.rule("personal-info").render_nudge(findings[0])
    assert "090" not in "".join(rendered.values())


@pytest.mark.parametrize(
    ("text", "rule_id", "hidden"),
    [
        ("明日の説明会は中止です。\n観光課 田中\n携帯 090-1234-5678", "formulaic-greeting", "1234"),
        ("明日の説明会は中止です。\n観光課 田中\nmail tanaka@example.com", "formulaic-greeting", "tanaka"),
        ("090-1234-5678までどうぞ", "chat-before-phone", "5678"),
        ("何かあれば ０７０ー１１１１ー２２２２ へどうぞ", "chat-before-phone", "２２２２"),
        ("027-123-4567、いつでも電話してね", "chat-before-phone", "4567"),
    ],
)
def test_no_quote_carries_a_number_or_address(
    default_rules: RuleSet, text: str, rule_id: str, hidden: str
) -> None:
    [finding] = [f for f in default_rules.evaluate(MessageInput(text)) if f.rule_id == rule_id]
    assert hidden not in finding.quote and "@" not in finding.quote
    assert "＊＊＊" in finding.quote
    assert hidden in text[finding.start : finding.end]  # the span still points at the words
    assert hidden not in "".join(default_rules.rule(rule_id).render_nudge(finding).values())


def test_transcribe_audio(default_rules: RuleSet) -> None:
    def audio(attachments: tuple[tuple[str, str], ...]) -> bool:
        message = MessageInput("添付します", "personal", attachments=attachments)
        return "transcribe-audio" in default_rules.fired_rule_ids(message)

    assert audio((("audio/mp4", "x.m4a"),))
    assert audio((("application/octet-stream", "X.WAV"),))
    assert audio((("audio/x-ms-wma", "留守電"),))
    assert not audio((("video/mp4", "x.mp4"),))
    assert not audio((("application/pdf", "audio.pdf"),))


def test_rule_metadata(default_rules: RuleSet) -> None:
    ids = {r.id for r in default_rules.rules}
    assert ids == {
        "formulaic-greeting",
        "written-ack",
        "chat-before-phone",
        "share-know-how",
        "personal-info",
        "transcribe-audio",
    }
    for rule in default_rules.rules:
        assert rule.title_ja and rule.explanation_ja and rule.policy_section
        assert rule.delivery in ("targeted", "thread", "log-only")
        assert rule.howto_topic is None or rule.howto_topic in HOWTO_TOPICS
    assert default_rules.rule("share-know-how").conversation_types == ("personal",)
    assert set(default_rules.rule("personal-info").conversation_types) == {"channel", "groupChat"}
    assert default_rules.rule("transcribe-audio").howto_topic == "文字起こし (Teams、Word)"


def test_render_nudge_fills_placeholders(default_rules: RuleSet) -> None:
    [finding] = default_rules.evaluate(MessageInput("承知しました", "personal"))
    rendered = default_rules.rule("written-ack").render_nudge(finding)
    assert set(rendered) == {"title", "body", "suggestion"}
    assert "承知しました" in rendered["body"] and "{" not in rendered["body"]


def test_findings_point_at_the_original_text(default_rules: RuleSet) -> None:
    text = "<at>山田</at> ｵﾂｶﾚｻﾏﾃﾞｽ。あとで でんわ します"
    findings = default_rules.evaluate(MessageInput(text, "personal"))
    quotes = {f.rule_id: text[f.start : f.end] for f in findings}
    assert quotes["formulaic-greeting"] == "ｵﾂｶﾚｻﾏﾃﾞｽ"
    assert quotes["chat-before-phone"] == "でんわ します"


def test_version_is_stable(default_rules: RuleSet) -> None:
    from policy_rules import load_rule_set

    assert load_rule_set().version == default_rules.version
    assert len(default_rules.version) == 12


def test_every_default_example_behaves(default_rules: RuleSet) -> None:
    assert default_rules.check_examples() == []
