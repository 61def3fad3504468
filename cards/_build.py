"""Small constructors for Adaptive Card 1.5 parts, so the card modules read like the card."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.5"
JST = timezone(timedelta(hours=9), "JST")  # Japan has no daylight saving time
_WEEKDAYS = "月火水木金土日"

Element = dict[str, Any]


def card(body: Iterable[Element], actions: Iterable[Element] = (), **extra: Any) -> dict[str, Any]:
    """Wrap body elements and actions into a top-level version 1.5 Adaptive Card."""
    result: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": CARD_SCHEMA,
        "version": CARD_VERSION,
        "body": list(body),
    }
    action_list = list(actions)
    if action_list:
        result["actions"] = action_list
    result.update(extra)
    return result


def text(value: str, **props: Any) -> Element:
    """A wrapping TextBlock."""
    return {"type": "TextBlock", "text": value, "wrap": True, **props}


def heading(value: str, size: str = "Medium") -> Element:
    """A bold heading TextBlock."""
    return text(value, weight="Bolder", size=size, style="heading")


def subtle(value: str) -> Element:
    """A small, subtle TextBlock for secondary information."""
    return text(value, isSubtle=True, size="Small")


def error_text(message: str) -> Element:
    """The attention-coloured message placed right under the input it concerns."""
    return text(message, color="attention", size="Small", spacing="None")


def container(items: Iterable[Element], **props: Any) -> Element:
    """A Container around items."""
    return {"type": "Container", "items": list(items), **props}


def facts(pairs: Iterable[tuple[str, str]]) -> Element:
    """A FactSet of (title, value) pairs."""
    return {"type": "FactSet", "facts": [{"title": t, "value": v} for t, v in pairs]}


def execute(title: str, verb: str, data: Mapping[str, Any] | None = None, **props: Any) -> Element:
    """An Action.Execute whose one id is both ``verb`` and ``data['verb']``."""
    payload = {"verb": verb, **(data or {})}
    return {"type": "Action.Execute", "title": title, "verb": verb, "data": payload, **props}


def open_url(title: str, url: str) -> Element:
    """An Action.OpenUrl."""
    return {"type": "Action.OpenUrl", "title": title, "url": url}


def action_set(actions: Iterable[Element]) -> Element:
    """An ActionSet placing buttons inside the body."""
    return {"type": "ActionSet", "actions": list(actions)}


def with_errors(input_element: Element, errors: Mapping[str, str] | None) -> list[Element]:
    """The input followed by its error message, if any, so the error sits next to the field."""
    message = (errors or {}).get(input_element["id"])
    return [input_element, error_text(message)] if message else [input_element]


def jst(moment: datetime) -> str:
    """Format an aware datetime as Japanese local time, e.g. 2023年5月12日(金) 17:00."""
    local = moment.astimezone(JST)
    return f"{local.year}年{local.month}月{local.day}日({_WEEKDAYS[local.weekday()]}) {local:%H:%M}"
