"""The WG catalogue: the seed's nine WGs, and every mistake in a broken file reported with its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from wg.catalogue import load_catalogue, parse_catalogue, unknown_departments
from wg.departments import load_departments
from wg.problems import ConfigError

EXPECTED = [
    ("bpr", "BPR推進WG", "all-departments", ()),
    (
        "seido-digital",
        "制度デジタル化WG",
        "related-departments",
        ("行政管理課", "財政課", "会計室", "情報政策課"),
    ),
    (
        "mynumber",
        "マイナンバーカード活用・普及WG",
        "related-departments",
        ("未来政策課", "交通政策課", "国民健康保険課", "市民課", "情報政策課"),
    ),
    (
        "kashikan",
        "貸館予約システムWG",
        "related-departments",
        (
            "生涯学習課",
            "指導監査課",
            "文化財保護課",
            "文化国際課",
            "公園管理事務所",
            "公営事業課",
            "スポーツ課",
            "情報政策課",
        ),
    ),
    (
        "digital-divide",
        "デジタルデバイド解消WG",
        "related-departments",
        ("未来政策課", "市民協働課", "生涯学習課", "長寿包括ケア課", "情報政策課"),
    ),
    (
        "kanmin-data",
        "官民データ活用WG",
        "related-departments",
        (
            "道路建設課",
            "共生社会推進課",
            "学校教育課",
            "都市計画課",
            "政策推進課",
            "未来政策課",
            "情報政策課",
        ),
    ),
    (
        "naibu-tosei",
        "内部統制のDX推進WG",
        "related-departments",
        (
            "行政管理課",
            "会計室",
            "監査委員事務局",
            "契約監理課",
            "職員課",
            "教育委員会総務課",
            "水道局経営企画課",
            "財政課",
            "情報政策課",
        ),
    ),
    ("mirise", "ミライズWG", "open-application", ()),
    ("chiiki-dx", "地域社会のDX推進WG", "open-application", ()),
]


def test_the_shipped_catalogue_has_the_seeds_nine_wgs() -> None:
    catalogue = load_catalogue()
    got = [(wg.id, wg.name, wg.selection, wg.departments) for wg in catalogue]
    assert got == EXPECTED


def test_catalogue_details_from_the_seed() -> None:
    catalogue = load_catalogue()
    assert catalogue["bpr"].continuing_members is True
    assert catalogue.quota(catalogue["bpr"]) == 2
    assert catalogue.quota(catalogue["mynumber"]) == 1
    assert catalogue["mirise"].themes == (
        "複業",
        "人材バンク",
        "ピアボーナス",
        "ABW（働き方）",
        "窓口",
        "コミュニケーションポリシー",
        "チャレンジ&アジャイル（自由課題）",
    )
    assert catalogue["chiiki-dx"].separate_recruitment is True
    assert [wg.id for wg in catalogue.open_application()] == ["mirise"]
    assert catalogue["bpr"].selection_label == "①全所属で構成"
    assert "Cyrillic" not in catalogue["digital-divide"].name and "й" not in catalogue["digital-divide"].name


def test_every_related_department_is_in_the_sample_directory() -> None:
    names = [d.name for d in load_departments()]
    assert unknown_departments(load_catalogue(), names) == []
    assert unknown_departments(load_catalogue(), [n for n in names if n != "会計室"]) == [
        "seido-digital: 会計室",
        "naibu-tosei: 会計室",
    ]


@pytest.mark.parametrize(
    ("department", "expected"),
    [
        ("秘書課", ["bpr"]),
        (
            "情報政策課",
            ["bpr", "seido-digital", "mynumber", "kashikan", "digital-divide", "kanmin-data", "naibu-tosei"],
        ),
        ("会計室", ["bpr", "seido-digital", "naibu-tosei"]),
        ("生涯学習課", ["bpr", "kashikan", "digital-divide"]),
    ],
)
def test_wgs_that_concern_a_department(department: str, expected: list[str]) -> None:
    assert [wg.id for wg in load_catalogue().for_department(department)] == expected


def test_a_campaign_can_limit_the_wgs() -> None:
    assert [wg.id for wg in load_catalogue().for_department("情報政策課", ("bpr", "mirise"))] == ["bpr"]


BROKEN = """\
version: 1
default_quota: 0
working_groups:
  - id: bpr
    name: BPR推進WG
    purpose: 可視化
    selection: all-departments
    colour: red
  - id: Seido
    name: 制度デジタル化WG
    purpose: 課題の検討
    selection: related-departments
  - id: bpr
    name: 重複
    purpose: x
    selection: everyone
  - id: mirise
    purpose: 公募
    selection: open-application
    quota_per_department: many
    themes: [複業]
"""

EXPECTED_PROBLEMS = [
    (2, "default_quota", "小さすぎます"),
    (8, "working_groups[0].colour", "知らない項目です"),
    (9, "working_groups[1].id", "使えない文字"),
    (9, "working_groups[1]", "departments に所属を1つ以上"),
    (13, "working_groups[2].id", "working_groups[0] と重複"),
    (16, "working_groups[2].selection", "使える値ではありません"),
    (17, "working_groups[3].name", "必須の項目がありません"),
    (20, "working_groups[3].quota_per_department", "整数で書いてください"),
]


def test_a_broken_catalogue_reports_every_problem_with_file_line_and_path(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_catalogue(path)
    problems = caught.value.problems
    got = {(p.line, p.path) for p in problems}
    for line, field, _ in EXPECTED_PROBLEMS:
        assert (line, field) in got, (line, field, [str(p) for p in problems])
    for line, field, words in EXPECTED_PROBLEMS:
        problem = next(p for p in problems if (p.line, p.path) == (line, field) and words in p.message_ja)
        assert problem.file == str(path) and problem.message_en
    assert len(problems) == len(EXPECTED_PROBLEMS)
    message = str(caught.value)
    assert f"{path}:13: working_groups[2].id:" in message
    assert "8件の問題があります / 8 problem(s)" in message


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("version: 1\nworking_groups: [\n", 3, "YAML の書き方"),
        ("version: 1\nworking_groups:\n  - id: a\n   name: x\n", 4, "YAML の書き方"),
        ("version: 1\nworking_groups: []\n", 1, "1つ以上"),
        ("- just\n- a list\n", 1, "項目: 値"),
        (
            "version: 1\nworking_groups:\n  - {id: a, name: A, purpose: p, selection: open-application, departments: [x]}\n",
            3,
            "related-departments のときだけ",
        ),
        (
            "version: 1\nworking_groups:\n  - {id: a, name: A, purpose: p, selection: all-departments, themes: [x]}\n",
            3,
            "公募",
        ),
    ],
)
def test_other_catalogue_mistakes(text: str, line: int, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_catalogue(text, "c.yaml")
    assert any(p.line == line and words in p.message_ja for p in caught.value.problems), [
        str(p) for p in caught.value.problems
    ]
