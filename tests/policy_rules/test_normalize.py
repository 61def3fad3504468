"""The matching view: folding table, offsets back to the original, both build paths agree."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy_rules.normalize import build_view, build_view_with_offsets, fold_pattern
from policy_rules.sentences import quote_spans, split_sentences

VIEW_CASES = [
    # (original, view text)
    ("ｵﾂｶﾚｻﾏﾃﾞｽ", "おつかれさまです"),
    ("ＯＫです！", "okです!"),
    ("はーい", "はい"),
    ("りょうかい〜〜", "りょうかい"),
    ("承知ですー🙆‍♀️", "承知です"),
    ("<at>田中 一郎</at> 了解です", "了解です"),
    ("了解しましたｗｗ", "了解しました"),
    ("了解です(笑)", "了解です"),
    ("承知です(´・ω・`)", "承知です"),
    ("090 1234 5678", "09012345678"),
    ("０９０－１２３４－５６７８", "090-1234-5678"),
    ("080−1234−5678", "080-1234-5678"),
    ("0278ー11ー2345", "0278-11-2345"),
    ("Power Automate の使い方", "power automateの使い方"),
    ("関係各位\n\n\n本文です", "関係各位\n本文です"),
    ("X&amp;Y", "x&y"),
    ("メール", "める"),
    ("13:30〜15:00", "13:30〜15:00"),
]


@pytest.mark.parametrize(("original", "expected"), VIEW_CASES)
def test_view_text(original: str, expected: str) -> None:
    assert build_view(original).text == expected


@pytest.mark.parametrize(("original", "expected"), VIEW_CASES)
def test_both_paths_agree(original: str, expected: str) -> None:
    assert build_view_with_offsets(original).text == build_view(original).text


@pytest.mark.parametrize(
    ("original", "needle", "expected_original"),
    [
        ("お疲れ様です🙏 税務課です", "税務課", "税務課"),
        ("<at>山田</at> ｵﾂｶﾚｻﾏﾃﾞｽ", "おつかれさまです", "ｵﾂｶﾚｻﾏﾃﾞｽ"),
        ("連絡先は ０９０－１２３４－５６７８ です", "090-1234-5678", "０９０－１２３４－５６７８"),
        ("了解ですｗ 明日は 電話 します", "電話します", "電話 します"),
    ],
)
def test_offsets_map_back_to_original(original: str, needle: str, expected_original: str) -> None:
    view = build_view(original)
    start = view.text.index(needle)
    s, e = view.to_original(start, start + len(needle))
    assert original[s:e] == expected_original


def test_fold_pattern_matches_folded_text() -> None:
    assert fold_pattern("オッケー") == "おっけ"
    assert fold_pattern(r"(?:電話|ＴＥＬ)\d+\S") == r"(?:電話|tel)\d+\S"


texts = st.text(
    alphabet=st.sampled_from(
        list("あいうアイウｱｲｳﾃﾞﾊﾟー〜～ 　\n\t-－−0１2ａBｗw(（)）笑<>&;@.。、！？「」😀👍\u200d\ufe0f")
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(texts)
def test_fast_path_and_offset_path_agree(text: str) -> None:
    fast = build_view(text)
    slow = build_view_with_offsets(text)
    assert fast.text == slow.text
    assert len(fast.offsets) == len(fast.text)
    assert all(0 <= o < max(1, len(text)) for o in fast.offsets)
    assert fast.offsets == sorted(fast.offsets)


SENTENCE_CASES = [
    ("お疲れ様です。承知しました!", ["お疲れ様です。", "承知しました!"]),
    ("一行目\n二行目", ["一行目", "二行目"]),
    ("金額は3.5万円です。", ["金額は3.5万円です。"]),
    ("「了解」だけの返信は避けます。次へ", ["「了解」だけの返信は避けます。", "次へ"]),
    ("なるほど…そうですね", ["なるほど…", "そうですね"]),
]


@pytest.mark.parametrize(("text", "expected"), SENTENCE_CASES)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert [s.text for s in split_sentences(text)] == expected


def test_quote_spans() -> None:
    text = "「了解」と『承知』は“OK”と同じ"
    assert [text[s:e] for s, e in quote_spans(text)] == ["「了解」", "『承知』", "“OK”"]
    assert quote_spans("引用なし") == []


@settings(max_examples=300, deadline=None)
@given(texts, st.integers(min_value=0, max_value=60), st.integers(min_value=0, max_value=60))
def test_span_mapping_without_the_full_map_agrees(text: str, a: int, b: int) -> None:
    fast = build_view(text)
    if not fast.text:
        return
    start, end = sorted((a % len(fast.text), b % (len(fast.text) + 1)))
    full = build_view_with_offsets(text)
    assert fast.to_original(start, end) == full.to_original(start, end)


@pytest.mark.parametrize(("text", "expected"), SENTENCE_CASES)
def test_opening_sentences_match_the_full_split(text: str, expected: list[str]) -> None:
    view = build_view(text)
    for count in (1, 2, 5):
        assert [s.text for s in view.opening_sentences(count)] == [s.text for s in view.sentences][:count]
