"""The admin command line, run as a real subprocess: check, try, evaluate."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from policy_rules.__main__ import main

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "policy_rules", *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=ROOT,
        timeout=60,
    )


def test_check_passes_on_the_defaults() -> None:
    result = run("check")
    assert result.returncode == 0, result.stderr
    assert "問題ありません" in result.stdout and "no problems" in result.stdout


def test_check_lists_every_problem_and_exits_1(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("rules:\n  - id: x-rule\n    colour: red\n", encoding="utf-8")
    result = run("check", str(tmp_path))
    assert result.returncode == 1
    assert f"{tmp_path / 'bad.yaml'}:3 [rules[0].colour]" in result.stderr
    assert "title_ja" in result.stderr and "Field required" in result.stderr


def test_check_runs_the_examples(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(
        "rules:\n  - id: fruit\n    title_ja: t\n    explanation_ja: e\n    policy_section: p\n"
        "    detectors: [{kind: phrase_set, phrases: [りんご]}]\n"
        "    nudge: {title: t, body: b, suggestion: s}\n"
        "    examples: {fire: [みかん], no_fire: [りんごです]}\n",
        encoding="utf-8",
    )
    result = run("check", str(tmp_path))
    assert result.returncode == 1
    assert "例文で発火しませんでした" in result.stderr and "example did not fire" in result.stderr
    assert "example fired but must not" in result.stderr


def test_try_shows_rules_and_spans() -> None:
    result = run("try", "お疲れ様です。後で電話します", "--type", "personal")
    assert result.returncode == 0
    assert "formulaic-greeting" in result.stdout and "chat-before-phone" in result.stdout
    assert "0-6" in result.stdout
    quiet = run("try", "明日は晴れです")
    assert "反応したルールはありません" in quiet.stdout


def test_evaluate_answers_each_line_in_order() -> None:
    lines = [
        {
            "id": "a",
            "conversation_type": "personal",
            "is_reply": False,
            "text": "承知しました",
            "attachments": [],
        },
        {
            "id": "b",
            "conversation_type": "channel",
            "is_reply": True,
            "text": "明日は晴れ",
            "attachments": [],
        },
        {
            "id": "c",
            "conversation_type": "groupChat",
            "text": "録音です",
            "attachments": [{"contentType": "audio/mp4", "name": "x.m4a"}],
        },
    ]
    stdin = "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines) + "not json\n"
    result = run("evaluate", stdin=stdin)
    assert result.returncode == 0
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["id"] for a in answers] == ["a", "b", "c", None]
    assert answers[0]["rules"] == ["written-ack"]
    assert answers[1]["rules"] == []
    assert answers[2]["rules"] == ["transcribe-audio"]
    assert answers[3]["error"] == "bad input"
    assert "承知" not in result.stderr


def test_main_leaves_the_callers_streams_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    reconfigured: list[dict[str, Any]] = []

    class Stream(io.StringIO):
        def reconfigure(self, **options: Any) -> None:
            reconfigured.append(options)

    out = Stream()
    monkeypatch.setattr(sys, "stdin", Stream())
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", Stream())
    assert main(["try", "承知しました", "--type", "personal"]) == 0
    assert "written-ack" in out.getvalue()
    assert reconfigured == []  # only `python -m policy_rules` switches its own stdio to UTF-8
