"""Script-aware approximation: classification, and the declared error bound on held-out dialogs."""

from __future__ import annotations

import numpy as np
import pytest

from polytok.count import TokenCounter
from polytok.count.approx import (
    APPROX_TARGETS,
    CalibrationTable,
    default_calibration,
    evaluate_calibration,
    fit_calibration,
    target_tokenizer,
)
from polytok.count.scripts import (
    CLASS_INDEX,
    NUM_CLASSES,
    classify,
    dominant_script,
    script_features,
)
from polytok.data import load_source


@pytest.fixture(scope="module")
def held_out() -> list[str]:
    return load_source({"name": "dialog", "language": "all"}).documents("test")


def test_classify_scripts() -> None:
    text = "Hi é Ж ש ب क ক ก 한 あ ア 漢 。 1 😀"
    names = [c for c in ("latin_ascii", "latin_ext", "cyrillic", "hebrew", "arabic", "devanagari",
                         "bengali", "thai", "hangul", "hiragana", "katakana", "han", "cjk_punct",
                         "digit", "emoji")]  # fmt: skip
    classes = classify(text)
    assert set(names) <= {list(CLASS_INDEX)[i] for i in classes}
    assert classes[text.index("😀")] == CLASS_INDEX["emoji"]
    assert classify("").shape == (0,)
    features = script_features("ab cd")
    assert (
        features[CLASS_INDEX["latin_ascii"]] == 4
        and features[NUM_CLASSES + CLASS_INDEX["latin_ascii"]] == 2
    )
    assert dominant_script("你好世界 hi") == "han" and dominant_script("Привет") == "cyrillic"
    assert dominant_script("123 !!") == "none"


@pytest.mark.parametrize("target", sorted(APPROX_TARGETS))
def test_declared_bound_holds_on_held_out_split(target: str, held_out: list[str]) -> None:
    calibration = default_calibration().get(target)
    exact = [len(ids) for ids in target_tokenizer(target).encode_batch(held_out)]
    report = evaluate_calibration(calibration, held_out, exact)
    assert report["all"]["p95"] <= calibration.error_bound
    assert report["all"]["mean"] <= calibration.mean_abs_rel_error * 1.5
    assert abs(report["all"]["signed"]) < 0.1  # no systematic under- or over-count


def test_beats_flat_len_over_4_on_cjk(held_out: list[str]) -> None:
    docs = [d for d in held_out if dominant_script(d) in ("han", "kana")]
    assert len(docs) > 50
    enc = target_tokenizer("cl100k_base")
    exact = np.array([len(enc.encode(d)) for d in docs], dtype=float)
    flat = np.array([len(d) / 4 for d in docs])
    ours = np.array(
        [default_calibration().get("cl100k_base").estimate(d) for d in docs], dtype=float
    )
    assert ((flat - exact) / exact).mean() < -0.5  # len/4 undercounts CJK by more than half
    assert abs(((ours - exact) / exact).mean()) < 0.1


def test_counter_reports_approximation_fields() -> None:
    result = TokenCounter().count("claude-sonnet-4-5", "这是一个测试句子，用来估计令牌数量。")
    assert not result.exact and result.strategy == "approx-script"
    assert result.encoding == "approx:cl100k_base" and 0 < result.typical_error < 0.5
    assert TokenCounter().count("claude-sonnet-4-5", "").count == 0


def test_fit_and_json_round_trip() -> None:
    texts = ["hello world " * k for k in range(1, 30)] + ["你好" * k for k in range(1, 30)]
    enc = target_tokenizer("o200k_base")
    counts = [len(enc.encode(t)) for t in texts]
    cal = fit_calibration("o200k_base", texts, counts)
    assert cal.char_rates[CLASS_INDEX["greek"]] == 1.0  # unseen script: cautious default
    assert evaluate_calibration(cal, texts, counts)["all"]["mean"] < 0.1
    table = CalibrationTable({"o200k_base": cal}, {"note": "test"}, "")
    again = CalibrationTable.from_json(table.to_json())
    assert again.get("o200k_base").estimate("hello world hello") == cal.estimate(
        "hello world hello"
    )
    with pytest.raises(KeyError, match="calibrated"):
        again.get("nope")
    with pytest.raises(ValueError, match="per text"):
        fit_calibration("x", ["a"], [1, 2])


def test_accuracy_table_names_families(held_out: list[str]) -> None:
    from polytok.count.approx import accuracy_markdown
    from polytok.count.registry import FAMILY_TARGETS, families_by_target

    mapping = families_by_target()
    assert sorted(f for fams in mapping.values() for f in fams) == sorted(FAMILY_TARGETS)
    docs = [d for d in held_out if dominant_script(d) in ("latin", "han")][:40]
    table = accuracy_markdown(default_calibration(), docs, mapping)
    rows = [line.split("|")[1:-1] for line in table.splitlines()[2:]]
    assert {r[1].strip() for r in rows} == set(APPROX_TARGETS)
    claude = [r for r in rows if "anthropic" in r[0] and r[2].strip() == "han"]
    assert len(claude) == 1 and claude[0][1].strip() == "cl100k_base"
    assert float(claude[0][7].strip().rstrip("%")) < -50  # len/4 undercounts Chinese
