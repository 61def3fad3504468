"""Problems found in a configuration file, with file, line and field path, in Japanese and English.

Loaders collect every problem before refusing, so an administrator fixes a file in one go.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import ValidationError

# Japanese wording for the pydantic error types a hand-written YAML or CSV file can cause.
_JA_BY_TYPE = {
    "missing": "必須の項目がありません",
    "extra_forbidden": "知らない項目です（綴りを確認してください）",
    "string_type": "文字列で書いてください",
    "int_type": "整数で書いてください",
    "int_parsing": "整数で書いてください",
    "bool_type": "true か false で書いてください",
    "bool_parsing": "true か false で書いてください",
    "list_type": "リスト（- で始まる行）で書いてください",
    "dict_type": "項目: 値 の形で書いてください",
    "model_type": "項目: 値 の形で書いてください",
    "literal_error": "使える値ではありません",
    "string_too_short": "空にはできません",
    "string_too_long": "長すぎます",
    "string_pattern_mismatch": "使えない文字が含まれています",
    "greater_than_equal": "小さすぎます",
    "less_than_equal": "大きすぎます",
    "too_short": "少なくとも1つ必要です",
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One mistake in a file: where it is and what is wrong, in Japanese and English."""

    file: str
    line: int | None
    path: str
    message_ja: str
    message_en: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        field = f" {self.path}:" if self.path else ""
        return f"{where}:{field} {self.message_ja} / {self.message_en}"


class ConfigError(ValueError):
    """A configuration file has one or more problems; all of them are in ``problems``."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{count}件の問題があります / {count} problem(s):\n{lines}")


def format_path(loc: Sequence[str | int]) -> str:
    """Render a pydantic location as ``working_groups[2].departments[0]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def compose_yaml(text: str) -> yaml.Node | None:
    """Parse YAML into a node tree that keeps line marks (raises yaml.MarkedYAMLError)."""
    return yaml.compose(text, Loader=yaml.SafeLoader)


def line_of(root: yaml.Node | None, loc: Sequence[str | int]) -> int | None:
    """The 1-based line of the deepest node that exists along ``loc`` (missing keys: their parent)."""
    if root is None:
        return None
    node: yaml.Node = root
    for part in loc:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            for key_node, value_node in node.value:
                if getattr(key_node, "value", None) == part:
                    # An unknown key is reported at the key itself, not its value.
                    child = value_node
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            child = node.value[part]
        if child is None:
            break
        node = child
    return node.start_mark.line + 1


def problems_from_validation(
    error: ValidationError, file: str, root: yaml.Node | None = None, line: int | None = None
) -> list[Problem]:
    """Turn every pydantic error into a Problem, locating it in the YAML tree or at ``line``."""
    problems = []
    for item in error.errors():
        loc = [p for p in item["loc"] if isinstance(p, str | int)]
        ctx: dict[str, Any] = item.get("ctx") or {}
        if "ja" in ctx:
            ja, en = str(ctx["ja"]), str(ctx.get("en", item["msg"]))
        else:
            ja = _JA_BY_TYPE.get(item["type"], "値が正しくありません")
            if item["type"] == "literal_error" and "expected" in ctx:
                ja += f"（{ctx['expected']}）"
            en = item["msg"]
        where = line if line is not None else line_of(root, loc)
        problems.append(Problem(file, where, format_path(loc), ja, en))
    return problems
