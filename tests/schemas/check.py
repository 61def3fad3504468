"""Check a card the way Teams renders Adaptive Cards 1.5: schema, version, inputs and verbs.

Use ``assert_valid_card(card)`` in any test that builds or receives a card.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Set
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft6Validator
from jsonschema.exceptions import best_match

from cards.verbs import ALL_VERBS

SCHEMA_FILE = Path(__file__).with_name("adaptive-card-1.5.json")
CARD_SCHEMA_URL = "http://adaptivecards.io/schemas/adaptive-card.json"
TARGET_VERSION = (1, 5)
MAX_CARD_BYTES = 28 * 1024  # Teams' documented limit for a card in a message

# Features of Adaptive Cards 1.6 and later that Teams does not render in a 1.5 card; named so the
# failure says why, although the 1.5 schema already rejects them as unknown.
NEWER_TYPES = frozenset(
    {
        "Icon",
        "Badge",
        "Carousel",
        "CarouselPage",
        "CompoundButton",
        "Rating",
        "Input.Rating",
        "ProgressBar",
        "ProgressRing",
        "CodeBlock",
        "Action.Popover",
        "Action.ResetInputs",
        "Chart.Donut",
        "Chart.Pie",
        "Chart.Gauge",
        "Chart.Line",
        "Chart.VerticalBar",
        "Chart.HorizontalBar",
    }
)
NEWER_PROPERTIES = frozenset(
    {
        "menuActions",
        "conditionallyEnabled",
        "valueChangedAction",
        "layouts",
        "targetWidth",
        "themedUrls",
        "themedIconUrls",
        "labelPosition",
        "labelWidth",
        "inputStyle",
        "grid.area",
        "showBorder",
        "roundedCorners",
    }
)


def _teams_overlay(schema: dict[str, Any]) -> dict[str, Any]:
    """Add what Teams renders in 1.5 cards beyond the official schema: the people picker's ``choices.data``.

    Teams documents ``"choices.data": {"type": "Data.Query", "dataset": ...}`` on Input.ChoiceSet
    (people picker, dynamic typeahead); the official schema only gained Data.Query in 1.6.
    """
    patched = copy.deepcopy(schema)
    definitions = patched["definitions"]
    definitions["Data.Query"] = {
        "description": "Teams: dynamic choices for Input.ChoiceSet (people picker).",
        "type": "object",
        "additionalProperties": False,
        "required": ["type", "dataset"],
        "properties": {
            "type": {"enum": ["Data.Query"]},
            "dataset": {"type": "string"},
            "count": {"type": "number"},
            "skip": {"type": "number"},
        },
    }
    definitions["Input.ChoiceSet"]["properties"]["choices.data"] = {"$ref": "#/definitions/Data.Query"}
    return patched


@cache
def schema() -> dict[str, Any]:
    """The vendored 1.5 schema with the Teams overlay applied."""
    return _teams_overlay(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))


@cache
def _validator() -> Draft6Validator:
    return Draft6Validator(schema())


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def _walk(node: Any, path: str = "$") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{path}[{index}]")


def _property_version(definitions: dict[str, Any], type_name: str, prop: str) -> str | None:
    """The version annotation of a property, looking through the Extendable.* bases."""
    pending = [type_name]
    while pending:
        definition = definitions.get(pending.pop(), {})
        spec = definition.get("properties", {}).get(prop)
        if isinstance(spec, dict) and "version" in spec:
            return str(spec["version"])
        for base in definition.get("allOf", []):
            ref = base.get("$ref", "")
            if ref.startswith("#/definitions/"):
                pending.append(ref.removeprefix("#/definitions/"))
    return None


def card_problems(card: dict[str, Any], known_verbs: Set[str] = ALL_VERBS) -> list[str]:
    """Every way ``card`` falls short of a Teams-renderable 1.5 card (empty when it is fine)."""
    problems: list[str] = []
    if card.get("type") != "AdaptiveCard":
        problems.append("$.type: must be AdaptiveCard")
    if card.get("version") != "1.5":
        problems.append(f"$.version: must be '1.5', found {card.get('version')!r}")
    if card.get("$schema") != CARD_SCHEMA_URL:
        problems.append(f"$.$schema: must be {CARD_SCHEMA_URL}")

    for error in _validator().iter_errors(card):
        detail = best_match(error.context) if error.context else error
        problems.append(f"{error.json_path}: {detail.message} (at {detail.json_path})")

    definitions = schema()["definitions"]
    input_ids: dict[str, str] = {}
    element_ids: dict[str, str] = {}
    for path, node in _walk(card):
        type_name = node.get("type")
        if not isinstance(type_name, str):
            continue
        if type_name in NEWER_TYPES:
            problems.append(f"{path}: {type_name} is newer than Adaptive Cards 1.5")
        definition = definitions.get(type_name)
        if definition is None and type_name not in ("AdaptiveCard",):
            problems.append(f"{path}: unknown element type {type_name!r}")
        if definition is not None and _version(str(definition.get("version", "1.0"))) > TARGET_VERSION:
            problems.append(f"{path}: {type_name} needs version {definition['version']}")
        for prop in node:
            if prop in NEWER_PROPERTIES:
                problems.append(f"{path}.{prop}: newer than Adaptive Cards 1.5")
            version = _property_version(definitions, type_name, prop)
            if version and _version(version) > TARGET_VERSION:
                problems.append(f"{path}.{prop}: needs version {version}")
        if type_name.startswith("Input.") and type_name != "Input.Choice":
            input_id = node.get("id")
            if not input_id:
                problems.append(f"{path}: an input needs an id")
            elif input_id in input_ids:
                problems.append(f"{path}: input id {input_id!r} also used at {input_ids[input_id]}")
            else:
                input_ids[input_id] = path
        elif isinstance(node.get("id"), str) and type_name != "Input.Choice":
            element_id = node["id"]
            if element_id in element_ids or element_id in input_ids:
                problems.append(f"{path}: element id {element_id!r} is not unique")
            element_ids[element_id] = path
        if type_name == "Action.Execute":
            verb = node.get("verb")
            data = node.get("data")
            if not verb:
                problems.append(f"{path}: Action.Execute needs a verb")
            elif verb not in known_verbs:
                problems.append(f"{path}: verb {verb!r} is not in cards.verbs")
            if not isinstance(data, dict) or data.get("verb") != verb:
                problems.append(f"{path}: Action.Execute data must carry the same verb")
        if type_name == "Action.Submit":
            problems.append(f"{path}: use Action.Execute (Universal Actions), not Action.Submit")
        if type_name == "Action.OpenUrl" and not str(node.get("url", "")).startswith(("https://", "http://")):
            problems.append(f"{path}: Action.OpenUrl needs an absolute http(s) url")

    size = len(json.dumps(card, ensure_ascii=False).encode("utf-8"))
    if size > MAX_CARD_BYTES:
        problems.append(f"$: card is {size} bytes, over Teams' {MAX_CARD_BYTES}")
    return problems


def assert_valid_card(card: dict[str, Any], known_verbs: Set[str] = ALL_VERBS) -> None:
    """Fail with every problem listed when ``card`` is not a valid Teams 1.5 card."""
    problems = card_problems(card, known_verbs)
    assert not problems, "invalid Adaptive Card:\n  " + "\n  ".join(problems)
