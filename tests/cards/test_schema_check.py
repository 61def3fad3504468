"""The card checker itself catches what Teams would not render (so card tests can fail)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.schemas.check import card_problems

GOOD: dict[str, Any] = {
    "type": "AdaptiveCard",
    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
    "version": "1.5",
    "body": [
        {"type": "TextBlock", "text": "こんにちは", "wrap": True, "style": "heading"},
        {"type": "Input.Text", "id": "a", "label": "A"},
        {
            "type": "Input.ChoiceSet",
            "id": "who",
            "choices": [],
            "choices.data": {"type": "Data.Query", "dataset": "graph.microsoft.com/users"},
        },
    ],
    "actions": [
        {"type": "Action.Execute", "title": "OK", "verb": "nudge.helpful", "data": {"verb": "nudge.helpful"}}
    ],
}


def _with(path: list[Any], value: Any) -> dict[str, Any]:
    card = copy.deepcopy(GOOD)
    node: Any = card
    for part in path[:-1]:
        node = node[part]
    if value is _DELETE:
        del node[path[-1]]
    elif isinstance(node, list) and path[-1] == len(node):
        node.append(value)
    else:
        node[path[-1]] = value
    return card


_DELETE = object()

INVALID = [
    ("version 1.6", ["version"], "1.6", "version"),
    ("no $schema", ["$schema"], _DELETE, "$schema"),
    ("unknown element", ["body", 3], {"type": "Carousel", "pages": []}, "Carousel"),
    ("1.6 Icon", ["body", 3], {"type": "Icon", "name": "Calendar"}, "newer than"),
    ("unknown property", ["body", 0, "foo"], 1, "not valid"),
    ("1.6 property", ["body", 1, "labelPosition"], "inline", "labelPosition"),
    ("duplicate input id", ["body", 3], {"type": "Input.Text", "id": "a"}, "'a' also used"),
    ("input without id", ["body", 3], {"type": "Input.Text"}, "needs an id"),
    (
        "verb not registered",
        ["actions", 0],
        {"type": "Action.Execute", "verb": "x.y", "data": {"verb": "x.y"}},
        "not in cards.verbs",
    ),
    ("data without verb", ["actions", 0, "data"], {}, "same verb"),
    ("no verb", ["actions", 0, "verb"], _DELETE, "needs a verb"),
    ("Action.Submit", ["actions", 0], {"type": "Action.Submit", "title": "x"}, "Action.Submit"),
    ("bad Data.Query", ["body", 2, "choices.data"], {"type": "Data.Query"}, "dataset"),
    ("relative url", ["actions", 0], {"type": "Action.OpenUrl", "url": "/x", "title": "x"}, "absolute"),
    ("too large", ["body", 3], {"type": "TextBlock", "text": "あ" * 10000}, "bytes"),
]


def test_the_reference_card_passes() -> None:
    assert card_problems(GOOD) == []


@pytest.mark.parametrize(("name", "path", "value", "expected"), INVALID, ids=[case[0] for case in INVALID])
def test_the_checker_rejects(name: str, path: list[Any], value: Any, expected: str) -> None:
    problems = card_problems(_with(path, value))
    assert any(expected in problem for problem in problems), problems
