"""Trends from real storage: rates, the small-group rule ("<5"), marks, CSV."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from bot.stats import StatsRecorder
from bot.stats.marks import MarkError, MarkStore
from bot.stats.queries import StatsQueries, TrendFilter, report_csv
from bot.storage import Database

MONDAY = date(2026, 11, 16)
SUNDAY = MONDAY + timedelta(days=6)


def recorder_for(db: Database) -> StatsRecorder:
    return StatsRecorder(db.stats, db.distinct_users, db.activity_claims)  # type: ignore[arg-type]


def queries_for(db: Database, marks: MarkStore | None = None) -> StatsQueries:
    return StatsQueries(db.stats, db.distinct_users, marks)  # type: ignore[arg-type]


_seq = iter(range(1_000_000))


def write_messages(
    recorder: StatsRecorder,
    *,
    day: date,
    department: str,
    people: int,
    each: int = 1,
    rule_ids: tuple[str, ...] = (),
    kind: str = "channel",
    question: bool = False,
) -> None:
    for person in range(people):
        for _ in range(each):
            recorder.record_message(
                day=day,
                conversation_kind=kind,
                department=department,
                user_key=f"{department}-{person}",
                activity_id=f"a{next(_seq)}",
                rule_ids=rule_ids,
                is_question=question,
            )


# (people writing in the department that week, figure shown)
GROUP_SIZES = [(1, "<5"), (4, "<5"), (5, "10"), (12, "24")]


@pytest.mark.parametrize(("people", "shown"), GROUP_SIZES, ids=[f"{p} people" for p, _ in GROUP_SIZES])
async def test_department_figures_hide_groups_under_five(lite_db: Database, people: int, shown: str) -> None:
    recorder = recorder_for(lite_db)
    write_messages(recorder, day=MONDAY, department="小さな課", people=people, each=2)
    write_messages(recorder, day=MONDAY, department="大きな課", people=20)
    await recorder.flush()
    report = await queries_for(lite_db).report(TrendFilter(MONDAY, SUNDAY, department="小さな課"))
    assert report.totals["messages"].display() == shown
    assert report.series["messages"][0].display() == shown
    row = next(
        d
        for d in (await queries_for(lite_db).report(TrendFilter(MONDAY, SUNDAY))).departments
        if d.department == "小さな課"
    )
    assert row.messages.display() == shown


async def test_a_small_week_is_hidden_while_the_others_show(lite_db: Database) -> None:
    recorder = recorder_for(lite_db)
    write_messages(recorder, day=MONDAY, department="課A", people=6)
    write_messages(recorder, day=MONDAY + timedelta(days=7), department="課A", people=3)
    await recorder.flush()
    report = await queries_for(lite_db).report(
        TrendFilter(MONDAY, SUNDAY + timedelta(days=7), department="課A")
    )
    assert [f.display() for f in report.series["messages"]] == ["6", "<5"]
    assert report.totals["messages"].display() == "9"  # six different people over the period


async def test_rates_per_hundred_messages_and_questions_by_place(db: Database) -> None:
    recorder = recorder_for(db)
    write_messages(recorder, day=MONDAY, department="課A", people=10, each=3)  # 30 plain
    write_messages(recorder, day=MONDAY, department="課A", people=5, rule_ids=("written-ack",))
    write_messages(
        recorder, day=MONDAY, department="課A", people=5, rule_ids=("formulaic-greeting", "written-ack")
    )
    write_messages(recorder, day=MONDAY, department="課A", people=5, kind="personal", question=True)
    write_messages(
        recorder, day=MONDAY, department="課A", people=5, question=True, rule_ids=("chat-before-phone",)
    )
    await recorder.flush()
    totals = (await queries_for(db).report(TrendFilter(MONDAY, SUNDAY))).totals
    # 50 messages: 10 written-ack hits, 5 greetings, 5 phone requests
    assert totals["messages"].value == 50
    assert totals["ack_per_100"].value == 20.0
    assert totals["greeting_per_100"].value == 10.0
    assert totals["phone_requests"].value == 5
    assert totals["questions_channel"].value == 5
    assert totals["questions_personal"].value == 5
    with_rule = await queries_for(db).report(TrendFilter(MONDAY, SUNDAY, rule_id="chat-before-phone"))
    assert with_rule.totals["rule_per_100"].value == 10.0


# (people who rated the rule, helpful clicks, shown ratio)
RATERS = [(3, 3, "<5"), (5, 4, "80"), (8, 2, "25")]


@pytest.mark.parametrize(("raters", "helpful", "ratio"), RATERS, ids=[f"{r} raters" for r, _, _ in RATERS])
async def test_rule_feedback_needs_five_raters(
    lite_db: Database, raters: int, helpful: int, ratio: str
) -> None:
    recorder = recorder_for(lite_db)
    write_messages(recorder, day=MONDAY, department="課A", people=10, rule_ids=("written-ack",))
    for person in range(raters):
        recorder.record_feedback(
            day=MONDAY,
            conversation_kind="channel",
            department="課A",
            rule_ids=["written-ack"],
            helpful=person < helpful,
            user_key=f"rater-{person}",
            activity_id=f"fb-{person}",
        )
    await recorder.flush()
    report = await queries_for(lite_db).report(TrendFilter(MONDAY, SUNDAY))
    rule = next(r for r in report.rule_feedback if r.rule_id == "written-ack")
    assert rule.helpful_ratio.display() == ratio
    assert rule.hits.display() == "10"


async def test_rules_are_named_by_the_loaded_rules_and_unknown_ones_by_their_id(lite_db: Database) -> None:
    recorder = recorder_for(lite_db)
    for rule_id in ("written-ack", "admin-rule", "removed-rule"):
        write_messages(recorder, day=MONDAY, department="課A", people=6, rule_ids=(rule_id,))
    await recorder.flush()
    titles = {"written-ack": "いいね！で", "admin-rule": "管理者のルール"}
    queries = StatsQueries(lite_db.stats, lite_db.distinct_users, rule_titles=lambda: titles)  # type: ignore[arg-type]
    report = await queries.report(TrendFilter(MONDAY, SUNDAY))
    named = {r.rule_id: r.title for r in report.rule_feedback}
    assert named == {
        "written-ack": "いいね！で",
        "admin-rule": "管理者のルール",
        "removed-rule": "removed-rule",
    }
    assert {r["rule"]: r["title"] for r in report.as_json()["rule_feedback"]} == named
    csv_text = report_csv(report, "rules").decode("utf-8-sig")
    assert csv_text.splitlines()[0].startswith("ルール,ルール名,検出")
    assert "admin-rule,管理者のルール,6" in csv_text


async def test_before_and_after_a_marked_date(lite_db: Database) -> None:
    marks = MarkStore(lite_db.marks)
    change = MONDAY + timedelta(days=14)
    await marks.add(change, "挨拶ルールの文言を変更")
    recorder = recorder_for(lite_db)
    write_messages(
        recorder,
        day=change - timedelta(days=3),
        department="課A",
        people=10,
        rule_ids=("formulaic-greeting",),
    )
    write_messages(recorder, day=change + timedelta(days=3), department="課A", people=10)
    await recorder.flush()
    report = await queries_for(lite_db, marks).report(TrendFilter(MONDAY, change + timedelta(days=20)))
    [comparison] = report.comparisons
    assert comparison.mark.label == "挨拶ルールの文言を変更"
    assert comparison.before["greeting_per_100"].value == 100.0
    assert comparison.after["greeting_per_100"].value == 0.0


MARK_CASES = [
    ("", "ラベルを入力してください。"),
    (" \t\n", "ラベルを入力してください。"),
    ("x" * 81, "80文字以内"),
]


@pytest.mark.parametrize(("label", "message"), MARK_CASES, ids=["empty", "blank", "too long"])
async def test_bad_marks_are_refused_with_a_japanese_reason(
    lite_db: Database, label: str, message: str
) -> None:
    with pytest.raises(MarkError, match=message):
        await MarkStore(lite_db.marks).add(MONDAY, label)
    assert await MarkStore(lite_db.marks).list() == []


async def test_csv_is_utf8_with_bom_and_keeps_the_small_group_rule(lite_db: Database) -> None:
    recorder = recorder_for(lite_db)
    write_messages(recorder, day=MONDAY, department="大きな課", people=7)
    write_messages(recorder, day=MONDAY, department="小さな課", people=2)
    await recorder.flush()
    report = await queries_for(lite_db).report(TrendFilter(MONDAY, SUNDAY))
    data = report_csv(report, "departments")
    assert data.startswith(b"\xef\xbb\xbf")
    lines = data.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("所属,メッセージ数")
    assert "大きな課,7," in lines[1] + lines[2]
    assert any(line.startswith("小さな課,<5,<5") for line in lines)
    trends = report_csv(report, "trends").decode("utf-8-sig").splitlines()
    assert trends[1].startswith("2026-11-16,2026-11-22,")
