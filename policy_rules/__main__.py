"""Command line for admins: check, try, evaluate (messages in Japanese and English)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from policy_rules.engine import RuleSet, example_issue, load_rule_set
from policy_rules.errors import RuleLoadError
from policy_rules.model import CONVERSATION_TYPES, MessageInput

TEXTS: dict[str, tuple[str, str]] = {
    "description": (
        "前橋市コミュニケーションポリシーのルールを検証・試行します",
        "validate and try the policy rules",
    ),
    "check_help": (
        "ルールを検証し、各ルールの例文を実行します",
        "validate the rules and run every rule's examples",
    ),
    "dir_help": ("既定のルールに重ねるディレクトリ", "directory overriding/extending the default rules"),
    "try_help": ("テキストにどのルールが反応するかを表示します", "show which rules fire on a text and where"),
    "eval_help": ("標準入力の JSON Lines を評価します", "evaluate JSON lines from stdin"),
    "ok": ("問題ありません", "no problems"),
    "rules_loaded": ("ルール {n} 件を読み込みました（版 {v}）", "{n} rules loaded (version {v})"),
    "examples_run": ("例文 {n} 件を実行しました", "{n} examples run"),
    "problems": ("問題が {n} 件あります", "{n} problems found"),
    "none_fired": ("反応したルールはありません", "no rule fired"),
    "bad_line": ("{line} 行目を読めません", "cannot read line {line}"),
}


def say(key: str, out: TextIO = sys.stdout, **values: Any) -> None:
    """Print one catalogue message in Japanese and English."""
    ja, en = TEXTS[key]
    print(f"{ja.format(**values)} / {en.format(**values)}", file=out)


def _load(dirs: Sequence[Path]) -> RuleSet | None:
    try:
        return load_rule_set(dirs)
    except RuleLoadError as exc:
        say("problems", sys.stderr, n=len(exc.errors))
        for issue in exc.errors:
            print(f"  - {issue}", file=sys.stderr)
        return None


def command_check(args: argparse.Namespace) -> int:
    """Validate the rules and run every example; 1 when anything is wrong."""
    dirs = [Path(args.dir)] if args.dir else []
    rules = _load(dirs)
    if rules is None:
        return 1
    say("rules_loaded", n=len(rules.rules), v=rules.version)
    total = sum(len(r.spec.examples.fire) + len(r.spec.examples.no_fire) for r in rules.rules)
    failures = rules.check_examples()
    say("examples_run", n=total)
    if failures:
        say("problems", sys.stderr, n=len(failures))
        for failure in failures:
            print(f"  - {example_issue(failure)}", file=sys.stderr)
        return 1
    say("ok")
    return 0


def command_try(args: argparse.Namespace) -> int:
    """Show which rules fire on one text, with the matched span."""
    rules = _load([Path(args.rules)] if args.rules else [])
    if rules is None:
        return 1
    message = MessageInput(text=args.text, conversation_type=args.type, is_reply=args.reply)
    findings = rules.evaluate(message)
    if not findings:
        say("none_fired")
    for finding in findings:
        rule = rules.rule(finding.rule_id)
        print(
            f"{finding.rule_id} [{finding.severity}] {finding.start}-{finding.end} 「{finding.quote}」 {rule.title_ja}"
        )
    return 0


def _message_from_json(obj: dict[str, Any]) -> MessageInput:
    attachments = tuple(
        (str(a.get("contentType") or ""), str(a.get("name") or ""))
        for a in obj.get("attachments") or []
        if isinstance(a, dict)
    )
    conversation_type = obj.get("conversation_type") or "channel"
    if conversation_type not in CONVERSATION_TYPES:
        raise ValueError(f"conversation_type: {conversation_type!r}")
    text = obj.get("text") or ""
    if not isinstance(text, str):
        raise ValueError("text must be a string")
    return MessageInput(text, conversation_type, bool(obj.get("is_reply")), attachments)


def command_evaluate(args: argparse.Namespace, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> int:
    """Read JSON lines, write {"id": …, "rules": […]} per line, in the same order."""
    rules = _load([Path(args.rules)] if args.rules else [])
    if rules is None:
        return 1
    for number, line in enumerate(stdin, start=1):
        if not line.strip():
            continue
        record_id = None
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict):
                raise ValueError("not an object")
            record_id = obj.get("id")
            fired = rules.fired_rule_ids(_message_from_json(obj))
            stdout.write(json.dumps({"id": record_id, "rules": fired}, ensure_ascii=False) + "\n")
        except (ValueError, TypeError) as exc:
            say("bad_line", sys.stderr, line=number)
            print(f"  {type(exc).__name__}", file=sys.stderr)
            stdout.write(json.dumps({"id": record_id, "rules": [], "error": "bad input"}) + "\n")
    stdout.flush()
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with its three commands."""

    def text(key: str) -> str:
        ja, en = TEXTS[key]
        return f"{ja} / {en}"

    parser = argparse.ArgumentParser(prog="python -m policy_rules", description=text("description"))
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help=text("check_help"))
    check.add_argument("dir", nargs="?", help=text("dir_help"))
    check.set_defaults(run=command_check)
    trial = commands.add_parser("try", help=text("try_help"))
    trial.add_argument("text")
    trial.add_argument("--type", choices=CONVERSATION_TYPES, default="channel")
    trial.add_argument("--reply", action="store_true")
    trial.add_argument("--rules", help=text("dir_help"))
    trial.set_defaults(run=command_try)
    evaluate = commands.add_parser("evaluate", help=text("eval_help"))
    evaluate.add_argument("--rules", help=text("dir_help"))
    evaluate.set_defaults(run=command_evaluate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point (the caller's streams are used as they are)."""
    args = build_parser().parse_args(argv)
    code: int = args.run(args)
    return code


def _utf8_stdio() -> None:
    """Read and write UTF-8 whatever the locale (JSON lines and Japanese messages)."""
    for stream in (sys.stdin, sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(encoding="utf-8")


if __name__ == "__main__":
    _utf8_stdio()  # only when run as a program: a caller of main() keeps its own streams
    sys.exit(main())
