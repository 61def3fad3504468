"""Read rule files: YAML with line numbers, pydantic validation, every error at once."""

from __future__ import annotations

import importlib.resources
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from policy_rules.errors import MESSAGES, PYDANTIC_MESSAGES_JA, RuleIssue, RuleLoadError
from policy_rules.schema import RuleFile, RuleSpec

DEFAULT_RULES_PACKAGE = "policy_rules.rules"


class _LinedDict(dict[Any, Any]):
    """A mapping that remembers its own line and the line of each key (1-based)."""

    line: int = 0
    key_lines: dict[Any, int]


class _LinedList(list[Any]):
    """A sequence that remembers its own line and the line of each item (1-based)."""

    line: int = 0
    item_lines: list[int]


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that keeps line numbers for error messages."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> _LinedDict:
    loader.flatten_mapping(node)
    result = _LinedDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
        result[key] = loader.construct_object(value_node, deep=True)  # type: ignore[no-untyped-call]
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> _LinedList:
    result = _LinedList(loader.construct_object(child, deep=True) for child in node.value)  # type: ignore[no-untyped-call]
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)  # type: ignore[arg-type]
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)  # type: ignore[arg-type]


def _line_of(data: Any, loc: tuple[Any, ...]) -> tuple[int | None, str]:
    """Walk the raw YAML data along a pydantic location; return (line, dotted field path)."""
    line: int | None = getattr(data, "line", None)
    node = data
    parts: list[str] = []
    for step in loc:
        if isinstance(node, _LinedDict) and step in node:
            line = node.key_lines.get(step, line)
            node = node[step]
            parts.append(str(step))
        elif isinstance(node, _LinedList) and isinstance(step, int) and 0 <= step < len(node):
            line = node.item_lines[step]
            node = node[step]
            parts.append(f"[{step}]")
        elif isinstance(node, _LinedDict) and isinstance(step, str) and node.get("kind") == step:
            continue  # the discriminator tag pydantic adds to the location
        else:
            parts.append(str(step))
            break
    path = ""
    for part in parts:
        path += part if part.startswith("[") or not path else "." + part
    return line, path


def _issues_from_validation(file: str, data: Any, exc: ValidationError) -> list[RuleIssue]:
    issues = []
    for err in exc.errors(include_url=False):
        line, path = _line_of(data, tuple(err["loc"]))
        kind = err["type"]
        message_en = err["msg"]
        if kind == "value_error":
            message_en = str(err.get("ctx", {}).get("error", message_en))
            message_ja = message_en
        else:
            message_ja = PYDANTIC_MESSAGES_JA.get(kind, "値が正しくありません")
        if kind == "union_tag_invalid":
            expected = err.get("ctx", {}).get("expected_tags", "")
            message_ja += f"（使えるもの: {expected}）"
        elif kind == "string_too_long":
            message_ja += f"（{err.get('ctx', {}).get('max_length', '')} 文字まで）"
        issues.append(RuleIssue(file, line, path, message_ja, message_en))
    return issues


def _issue(file: str, line: int | None, path: str, key: str, detail: str = "") -> RuleIssue:
    ja, en = MESSAGES[key]
    suffix = f": {detail}" if detail else ""
    return RuleIssue(file, line, path, ja + suffix, en + suffix)


def parse_rule_text(text: str, file: str) -> tuple[list[RuleSpec], list[RuleIssue]]:
    """Parse and validate one rule file's text; return its rules and every issue found."""
    try:
        data = yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        detail = getattr(exc, "problem", None) or str(exc)
        return [], [_issue(file, line, "", "yaml_syntax", str(detail))]
    if data is None:
        return [], []
    if not isinstance(data, dict):
        return [], [_issue(file, getattr(data, "line", 1), "", "not_mapping")]
    try:
        parsed = RuleFile.model_validate(data)
    except ValidationError as exc:
        return [], _issues_from_validation(file, data, exc)
    issues: list[RuleIssue] = []
    seen: dict[str, int] = {}
    for index, rule in enumerate(parsed.rules):
        if rule.id in seen:
            line, path = _line_of(data, ("rules", index, "id"))
            issues.append(_issue(file, line, path, "duplicate_id", rule.id))
        seen[rule.id] = index
    return parsed.rules, issues


def _rule_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def load_rule_specs(
    extra_dirs: Iterable[Path] = (), include_defaults: bool = True
) -> list[tuple[RuleSpec, str]]:
    """Load the packaged defaults then each extra directory; a later rule with the same id replaces
    the earlier one. Returns (rule, source file) pairs; raises RuleLoadError with every issue."""
    issues: list[RuleIssue] = []
    merged: dict[str, tuple[RuleSpec, str]] = {}
    layers: list[list[tuple[str, str]]] = []
    if include_defaults:
        package = importlib.resources.files(DEFAULT_RULES_PACKAGE)
        files = sorted(
            (p for p in package.iterdir() if p.name.endswith((".yaml", ".yml"))), key=lambda p: p.name
        )
        layers.append([(f"policy_rules/rules/{p.name}", p.read_text(encoding="utf-8")) for p in files])
    for directory in extra_dirs:
        directory = Path(directory)
        if not directory.is_dir():
            issues.append(_issue(str(directory), None, "", "missing_dir"))
            continue
        layer = []
        for path in _rule_files(directory):
            try:
                layer.append((str(path), path.read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError) as exc:
                issues.append(_issue(str(path), None, "", "unreadable", type(exc).__name__))
        layers.append(layer)
    for layer in layers:
        in_layer: dict[str, str] = {}
        for file, text in layer:
            rules, file_issues = parse_rule_text(text, file)
            issues.extend(file_issues)
            for rule in rules:
                if rule.id in in_layer and in_layer[rule.id] != file:
                    issues.append(
                        _issue(file, None, "rules", "duplicate_id", f"{rule.id} ({in_layer[rule.id]})")
                    )
                in_layer[rule.id] = file
                merged[rule.id] = (rule, file)
    if not issues and not merged:
        issues.append(_issue("-", None, "", "no_rules"))
    if issues:
        issues.sort(key=lambda issue: (issue.file, issue.line or 0))
        raise RuleLoadError(issues)
    return list(merged.values())
