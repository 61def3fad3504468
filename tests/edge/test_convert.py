"""Conversion of raw activities into domain objects: text the rules see, conversation kinds,
Universal Actions bodies. (The endpoint tests cover the same through the socket.)"""

from __future__ import annotations

from typing import Any

import pytest

from bot.domain import InvokeResult
from bot.teams import convert
from tests.edge.conftest import make_activity

PLAIN_TEXT = [
    ("お疲れ様です", "お疲れ様です"),
    ("<p>お疲れ様です</p>", "お疲れ様です"),
    ("<at>ポリシーボット</at> 承知しました", "承知しました"),
    ('<at id="0">田中</at>さん、<at id="1">佐藤</at>さん 確認します', "さん、さん 確認します"),
    ("<div>一行目</div><div>二行目</div>", "一行目\n二行目"),
    ("一行目<br>二行目<br/>三行目", "一行目\n二行目\n三行目"),
    ("<p>A &amp; B &lt;tag&gt; &#x3042;</p>", "A & B <tag> あ"),
    ("a&nbsp;&nbsp;b\t\tc", "a b c"),
    ("<p></p><p>  </p>", ""),
    ("x < y and y > z", "x < y and y > z"),  # a bare '<' is text, not a tag
    ("<p>1 <3 you</p><!-- comment -->", "1 <3 you"),
    ("", ""),
]


@pytest.mark.parametrize(("html", "plain"), PLAIN_TEXT)
def test_plain_text(html: str, plain: str) -> None:
    assert convert.plain_text(html) == plain


CONVERSATIONS: list[tuple[dict[str, Any], str]] = [
    ({"id": "19:x@thread.tacv2", "conversationType": "channel"}, "channel"),
    ({"id": "19:x@thread.v2", "conversationType": "groupChat", "isGroup": True}, "groupChat"),
    ({"id": "a:1", "conversationType": "personal"}, "personal"),
    ({"id": "19:x@thread.v2", "isGroup": True}, "groupChat"),
    ({"id": "a:1"}, "personal"),
    ({"id": "a:1", "conversationType": {"weird": True}}, "personal"),
]


@pytest.mark.parametrize(("conversation", "kind"), CONVERSATIONS)
def test_conversation_kind(conversation: dict[str, Any], kind: str) -> None:
    activity = make_activity("personal", conversation=conversation, channelData={})
    assert convert.conversation_ref(activity).kind == kind


@pytest.mark.parametrize(
    "broken",
    [
        {"conversation": None},
        {"conversation": {"id": 5}},
        {"serviceUrl": None},
        {"from": None},
        {"from": {"name": "x"}},
    ],
)
def test_messages_missing_essentials_are_invalid(broken: dict[str, Any]) -> None:
    with pytest.raises(convert.InvalidActivity):
        convert.incoming_message(make_activity(**broken), is_edit=False)


def test_message_with_neither_text_nor_files_is_skipped() -> None:
    assert convert.incoming_message(make_activity(text="", attachments=[]), is_edit=False) is None


INVOKE_BODIES = [
    (
        InvokeResult(card={"type": "AdaptiveCard"}),
        {
            "statusCode": 200,
            "type": "application/vnd.microsoft.card.adaptive",
            "value": {"type": "AdaptiveCard"},
        },
    ),
    (
        InvokeResult(message="OK"),
        {"statusCode": 200, "type": "application/vnd.microsoft.activity.message", "value": "OK"},
    ),
    (InvokeResult(), {"statusCode": 200, "type": "application/vnd.microsoft.activity.message", "value": ""}),
    (
        InvokeResult(status=400, error_code=400, error_message="入力が不正です"),
        {
            "statusCode": 400,
            "type": "application/vnd.microsoft.error",
            "value": {"code": "400", "message": "入力が不正です"},
        },
    ),
    (
        InvokeResult(status=403),
        {
            "statusCode": 403,
            "type": "application/vnd.microsoft.error",
            "value": {"code": "403", "message": ""},
        },
    ),
]


@pytest.mark.parametrize(("result", "body"), INVOKE_BODIES)
def test_invoke_response_body(result: InvokeResult, body: dict[str, Any]) -> None:
    assert convert.invoke_response_body(result) == body
