"""Fresh messages written from the rule definitions (not from the corpus): the engine's
generalisation check. Each row: text, conversation type, attachments, rule ids that must fire
(and no others)."""

from __future__ import annotations

import pytest

from policy_rules import MessageInput, RuleSet

C, G, P = "channel", "groupChat", "personal"
AUDIO = (("audio/mp4", "memo.m4a"),)
FILE = "application/vnd.microsoft.teams.file.download.info"

FRESH: list[tuple[str, str, tuple[tuple[str, str], ...], set[str]]] = [
    # formulaic-greeting
    ("おつかれさまでーす。会議室の予約、来週分も取っておきました。", G, (), {"formulaic-greeting"}),
    (
        "いつも大変お世話になっております。監査委員事務局の佐藤です。\n監査資料の提出期限を確認させてください。",
        G,
        (),
        {"formulaic-greeting"},
    ),
    (
        "突然のメッセージ失礼します。観光振興課の吉田と申します。来月のイベントの後援名義の件でご相談です。",
        P,
        (),
        {"formulaic-greeting"},
    ),
    ("各課庶務担当者各位\n\n年末調整の書類の提出は12月5日までです。", C, (), {"formulaic-greeting"}),
    (
        "研修の申込みは今週金曜までです。\n\n――――――――\n人事課 研修係 小池\n内線 2233\n――――――――",
        C,
        (),
        {"formulaic-greeting"},
    ),
    ("ｵﾂｶﾚｻﾏﾃﾞｽ 明日の当番表を更新しました", G, (), {"formulaic-greeting"}),
    ("皆さん、昨日の選挙事務お疲れ様でした！無事に終わりました。", C, (), set()),
    ("チャットでは「お世話になります」の一言も要りません。", C, (), set()),
    ("よろしくお願いします。例の補助金の件、今日中に申請書を回します。", G, (), set()),
    ("議事録をアップしました。ご確認よろしくお願いいたします。", C, (), set()),
    ("来週の当番は以下のとおりです。\n月：青木\n火：石井\n文化振興課 青木", C, (), set()),
    # written-ack
    ("了解ですー！", C, (), {"written-ack"}),
    ("承知です🙆", G, (), {"written-ack"}),
    ("ｏｋです", P, (), {"written-ack"}),
    ("かしこまりました、ありがとうございます。", G, (), {"written-ack"}),
    ("<at>田中 一郎</at> 確認しました！", C, (), {"written-ack"}),
    ("わかりました😄", P, (), {"written-ack"}),
    ("はい、よろしくお願いいたします", G, (), {"written-ack"}),
    ("お世話になっております。了解いたしました。", C, (), {"formulaic-greeting", "written-ack"}),
    ("了解です。明日の午後に資料を持っていきます。", C, (), set()),
    ("ありがとうございます。ところで、会場の予約は済んでいますか？", G, (), set()),
    ("丁寧な資料で、とても参考になりました。", C, (), set()),
    ("🙏🙏", G, (), set()),
    ("確認して明日お返事します", P, (), set()),
    # chat-before-phone
    ("この件、ちょっと込み入ってるのでお電話いただけますか", G, (), {"chat-before-phone"}),
    ("手が空いたら内線いただけますか？", P, (), {"chat-before-phone"}),
    ("後で電話しますね、見積書の件です。", P, (), {"chat-before-phone"}),
    ("口頭の方が早いので、電話で相談させてください。", C, (), {"chat-before-phone"}),
    ("不明点があれば内線5678までお気軽にどうぞ。", C, (), {"chat-before-phone"}),
    ("至急、システム担当は内線ください！", G, (), set()),
    ("緊急：停電のため電話でお願いします", C, (), set()),
    ("電話当番の表を更新しました。", C, (), set()),
    ("先ほど市民の方から電話で問い合わせがありました。内容は以下のとおりです。", C, (), set()),
    ("内線番号表、最新版に差し替えました。", C, (), set()),
    # share-know-how
    ("Wordで差し込み印刷するやり方を教えてください", P, (), {"share-know-how"}),
    ("SharePointのサイトにページを追加するにはどうしたらいいですか？", P, (), {"share-know-how"}),
    ("給与明細ってどこから見られるんでしたっけ？システムの場所が分からなくて", P, (), {"share-know-how"}),
    ("Wordで差し込み印刷するやり方を教えてください", C, (), set()),
    ("明日の飲み会、何時に集合ですか？", P, (), set()),
    ("体調を崩してしまって、休暇の申請ってどうすればいいですか", P, (), set()),
    ("来週の打合せは木曜でいかがですか？", P, (), set()),
    # personal-info
    ("申請者の携帯：０８０－１２３４－５６７８", G, (), {"personal-info"}),
    ("ご自宅は前橋市本町三丁目5番7号とのことです。", C, (), {"personal-info"}),
    ("連絡はこちらへ: suzuki.taro@example.org", C, (), {"personal-info"}),
    ("生年月日：1990年5月6日、転入手続き済みです。", G, (), {"personal-info"}),
    ("支払先口座番号：7777777", C, (), {"personal-info"}),
    ("問い合わせ先は 027-224-1111 （代表）です。", C, (), set()),
    ("回答は info@city.maebashi.gunma.jp で受け付けます。", C, (), set()),
    ("議案第12号の資料は3-2-1のとおりです。", C, (), set()),
    ("支払額は 1,234,567円 です。", C, (), set()),
    ("申請者の携帯：０８０－１２３４－５６７８", P, (), set()),
    # more precision probes
    ("お電話ありがとうございました。内容は了解です。", G, (), set()),
    ("電話番号を教えてください", G, (), set()),
    ("後で電話をかけます", G, (), {"chat-before-phone"}),
    ("明日の電話当番、代わってもらえますか", G, (), set()),
    ("了解です！明日よろしくお願いします", G, (), set()),
    ("はい、お願いします", G, (), {"written-ack"}),
    ("いいですね！", G, (), set()),
    ("おはようございます。本日の予定です", G, (), set()),
    ("この書類、どこに出せばいいですか？", P, (), {"share-know-how"}),
    ("今日のランチどこにする？", P, (), set()),
    ("この資料、確認してもらえますか？", P, (), set()),
    ("Teamsの通知を切るにはどうしたらいい？", P, (), {"share-know-how"}),
    ("TEL 027-123-4567", C, (), {"personal-info"}),
    ("郵便番号 371-8601", C, (), set()),
    ("受付番号 2024-0001-2345", C, (), set()),
    ("第1条第2項第3号", C, (), set()),
    # transcribe-audio
    ("会議の録音です", C, (("audio/mpeg", "meeting.mp3"),), {"transcribe-audio"}),
    ("留守電の内容です", G, ((FILE, "VOICE.OGG"),), {"transcribe-audio"}),
    ("動画です", C, (("video/mp4", "clip.mp4"),), set()),
    ("資料です", P, ((FILE, "audio_report.xlsx"),), set()),
]


@pytest.mark.parametrize(("text", "conversation_type", "attachments", "expected"), FRESH)
def test_fresh_message(
    default_rules: RuleSet,
    text: str,
    conversation_type: str,
    attachments: tuple[tuple[str, str], ...],
    expected: set[str],
) -> None:
    message = MessageInput(text=text, conversation_type=conversation_type, attachments=attachments)  # type: ignore[arg-type]
    assert set(default_rules.fired_rule_ids(message)) == expected
