"""Load errors and their messages in Japanese and English, kept in one place."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RuleIssue:
    """One problem in a rule file: where it is and what is wrong, in both languages."""

    file: str
    line: int | None
    field_path: str
    message_ja: str
    message_en: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        path = f" [{self.field_path}]" if self.field_path else ""
        return f"{where}{path}: {self.message_ja} / {self.message_en}"


class RuleLoadError(Exception):
    """The rules could not be loaded; ``errors`` lists every problem found."""

    def __init__(self, errors: list[RuleIssue]) -> None:
        self.errors = errors
        super().__init__(self._summary())

    def _summary(self) -> str:
        head = f"ルールを読み込めません ({len(self.errors)} 件) / cannot load rules ({len(self.errors)} problems)"
        return "\n".join([head, *(f"  - {issue}" for issue in self.errors)])


# pydantic error type -> Japanese wording (the English comes from pydantic itself)
PYDANTIC_MESSAGES_JA: dict[str, str] = {
    "missing": "必須の項目がありません",
    "extra_forbidden": "未知の項目です（綴りを確認してください）",
    "union_tag_invalid": "detector の kind が不明です",
    "union_tag_not_found": "detector に kind がありません",
    "literal_error": "値が選択肢にありません",
    "string_type": "文字列を書いてください",
    "bool_type": "true か false を書いてください",
    "bool_parsing": "true か false を書いてください",
    "int_type": "整数を書いてください",
    "int_parsing": "整数を書いてください",
    "list_type": "リスト（- で始まる行）を書いてください",
    "dict_type": "項目の集まり（キー: 値）を書いてください",
    "model_type": "項目の集まり（キー: 値）を書いてください",
    "model_attributes_type": "項目の集まり（キー: 値）を書いてください",
    "too_short": "少なくとも 1 つ必要です",
    "string_too_short": "空にはできません",
    "string_too_long": "長すぎます",
    "greater_than_equal": "値が小さすぎます",
    "less_than_equal": "値が大きすぎます",
    "frozen_instance": "変更できません",
}
MESSAGES: dict[str, tuple[str, str]] = {
    "yaml_syntax": ("YAML の書き方に誤りがあります", "YAML syntax error"),
    "not_mapping": (
        "ファイルの最上位は rules: で始めてください",
        "the top level must be a mapping with 'rules:'",
    ),
    "duplicate_id": ("同じ id のルールが同じ場所に 2 つあります", "duplicate rule id in the same directory"),
    "missing_dir": ("ルールのディレクトリがありません", "rules directory not found"),
    "unreadable": ("ファイルを読めません", "cannot read file"),
    "no_rules": ("ルールが 1 つもありません", "no rules found"),
    "example_should_fire": ("例文で発火しませんでした", "example did not fire"),
    "example_should_not_fire": ("発火してはいけない例文で発火しました", "example fired but must not"),
}
