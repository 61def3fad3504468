"""The weekly digest card: how the policy is taking hold, with a small chart per trend.

Pure: takes a ``DigestView`` of already formatted figures (suppressed ones already "<5") and
chart image URLs, returns the Adaptive Card 1.5 as a dict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from cards._build import card, facts, heading, subtle, text

Tone = Literal["good", "bad", "neutral"]
_TONE_COLOUR = {"good": "good", "bad": "attention", "neutral": "default"}


@dataclass(frozen=True, slots=True)
class DigestMetric:
    """One trend: its label, this week's figure, the change and a chart of recent weeks."""

    label: str
    value: str  # e.g. "3.2 件/100件" or "<5"
    change: str  # e.g. "先週より 0.8 減" ("" when there is nothing to compare)
    tone: Tone = "neutral"  # whether the change is good news for the policy
    chart_url: str | None = None  # PNG (data: URI or an https URL the app serves)
    chart_alt: str = ""


@dataclass(frozen=True, slots=True)
class DigestRuleLine:
    """How one rule's nudges were rated this week."""

    rule_label: str
    helpful_ratio: str  # "75%" or "<5" or "–"
    nudges: str


@dataclass(frozen=True, slots=True)
class DigestView:
    """Everything the digest card shows."""

    week_label: str  # "2026-W48"
    period_text: str  # "11月23日(月)〜11月29日(日)"
    metrics: tuple[DigestMetric, ...]
    rules: tuple[DigestRuleLine, ...] = ()
    dashboard_url: str | None = None
    weeks_shown: int = 8


def _metric_row(metric: DigestMetric) -> dict[str, Any]:
    left: list[dict[str, Any]] = [
        text(metric.label, size="Small", weight="Bolder"),
        text(metric.value, size="Large", spacing="None"),
    ]
    if metric.change:
        left.append(text(metric.change, size="Small", color=_TONE_COLOUR[metric.tone], spacing="None"))
    columns: list[dict[str, Any]] = [{"type": "Column", "width": "stretch", "items": left}]
    if metric.chart_url:
        columns.append(
            {
                "type": "Column",
                "width": "auto",
                "verticalContentAlignment": "Center",
                "items": [
                    {
                        "type": "Image",
                        "url": metric.chart_url,
                        "altText": metric.chart_alt or metric.label,
                        "width": "180px",
                        "height": "48px",
                    }
                ],
            }
        )
    return {"type": "ColumnSet", "columns": columns, "separator": True, "spacing": "Medium"}


def digest_card(view: DigestView) -> dict[str, Any]:
    """The weekly digest (Adaptive Card 1.5, Japanese)."""
    body: list[dict[str, Any]] = [
        heading("今週のふりかえり：コミュニケーションポリシー", size="Large"),
        subtle(f"{view.period_text}（{view.week_label}）"),
        text(
            f"グラフは直近{view.weeks_shown}週の推移です（右端が今週）。"
            "「承知しました」等の書き込みと定形挨拶は、減るほどポリシーが根付いています。",
            size="Small",
        ),
    ]
    body.extend(_metric_row(metric) for metric in view.metrics)
    if view.rules:
        body.append(
            heading("ヒントの評価（役に立った割合）", size="Medium") | {"separator": True, "spacing": "Large"}
        )
        body.append(
            facts((line.rule_label, f"{line.helpful_ratio}（送信 {line.nudges} 件）") for line in view.rules)
        )
        body.append(subtle("割合が低いヒントは、ルールの見直し候補です。"))
    body.append(
        subtle("5人未満の集団に関する数値は「<5」と表示しています。個人の書き込み内容は記録していません。")
    )
    actions = []
    if view.dashboard_url:
        actions.append({"type": "Action.OpenUrl", "title": "ダッシュボードを開く", "url": view.dashboard_url})
    return card(body, actions)
