"""Offline token-count approximation by Unicode script, calibrated against exact tokenizers.

Model (per target tokenizer ``p``): ``tokens(text) ~= sum_c a_pc * chars_c(text) + b_pc *
runs_c(text)`` over the script classes of `polytok.count.scripts` (characters and runs per class).
The non-negative coefficients are fitted by weighted non-negative least squares (Lawson & Hanson,
"Solving Least Squares Problems", 1974, ch. 23), each document weighted by ``1 / exact_count`` so
the fit minimises *relative* error. A flat ``len(text) / 4`` undercounts Chinese and Japanese by
about two thirds; per-script rates do not.

The fitted table ships as ``calibration.json`` next to this module, written by
``scripts/count_calibrate.py`` from the dialog corpus's train split; the declared error bound of
each target is checked on the test split by ``tests/count/test_count_approx.py``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

from polytok.assets import ASSETS
from polytok.count.scripts import NUM_CLASSES, SCRIPT_CLASSES, dominant_script, script_features
from polytok.tokenizers import TextTokenizer, get_tokenizer

CALIBRATION_FILE = "calibration.json"
CALIBRATION_FORMAT = 1
# Tokens per character for classes without calibration data: BPE vocabularies rarely merge the
# UTF-8 bytes of scripts they saw little of, so one token per character is the cautious guess.
UNCALIBRATED_CHAR_RATE = 1.0


@dataclass(frozen=True)
class ScriptCalibration:
    """Fitted coefficients for one target tokenizer.

    Attributes:
        target: the exact tokenizer the coefficients approximate (``"cl100k_base"``, ...).
        char_rates: ``(NUM_CLASSES,)`` tokens per character of each class.
        run_rates: ``(NUM_CLASSES,)`` tokens per run of each class.
        mean_abs_rel_error: mean of ``|approx - exact| / exact`` over calibration documents.
        error_bound: the declared bound: the 95th percentile of the relative error over
            held-out documents stays below it (tested).
    """

    target: str
    char_rates: np.ndarray
    run_rates: np.ndarray
    mean_abs_rel_error: float
    error_bound: float

    def estimate(self, text: str) -> int:
        """Approximate token count of ``text`` (at least 1 for a non-empty text)."""
        if not text:
            return 0
        features = script_features(text)  # (2K,)
        value = float(
            features[:NUM_CLASSES] @ self.char_rates + features[NUM_CLASSES:] @ self.run_rates
        )
        return max(1, round(value))

    def to_dict(self) -> dict[str, Any]:
        return {
            "char_rates": dict(zip(SCRIPT_CLASSES, map(float, self.char_rates))),
            "run_rates": dict(zip(SCRIPT_CLASSES, map(float, self.run_rates))),
            "mean_abs_rel_error": self.mean_abs_rel_error,
            "error_bound": self.error_bound,
        }

    @classmethod
    def from_dict(cls, target: str, data: dict[str, Any]) -> ScriptCalibration:
        def vector(rates: dict[str, float], default: float) -> np.ndarray:
            unknown = sorted(set(rates) - set(SCRIPT_CLASSES))
            if unknown:
                raise ValueError(
                    f"calibration for {target!r} names unknown script classes {unknown}; "
                    f"known: {list(SCRIPT_CLASSES)}. Re-run scripts/count_calibrate.py"
                )
            return np.array([float(rates.get(c, default)) for c in SCRIPT_CLASSES])

        return cls(
            target=target,
            char_rates=vector(data["char_rates"], UNCALIBRATED_CHAR_RATE),
            run_rates=vector(data["run_rates"], 0.0),
            mean_abs_rel_error=float(data["mean_abs_rel_error"]),
            error_bound=float(data["error_bound"]),
        )


def relative_errors(estimates: Sequence[float], exact: Sequence[int]) -> np.ndarray:
    """``|estimate - exact| / exact`` per item (items with ``exact == 0`` are dropped)."""
    est = np.asarray(estimates, dtype=np.float64)
    ref = np.asarray(exact, dtype=np.float64)
    keep = ref > 0
    return np.abs(est[keep] - ref[keep]) / ref[keep]


def fit_calibration(
    target: str, texts: Sequence[str], exact_counts: Sequence[int], bound_margin: float = 1.25
) -> ScriptCalibration:
    """Fit per-class rates so that estimates match ``exact_counts`` in relative terms.

    Args:
        target: name of the exact tokenizer that produced ``exact_counts``.
        texts: calibration documents.
        exact_counts: their exact token counts.
        bound_margin: the declared ``error_bound`` is the calibration set's 95th-percentile
            relative error times this margin (held-out data is a little worse than training data).

    Returns:
        The calibration; classes absent from ``texts`` get `UNCALIBRATED_CHAR_RATE`.

    Raises:
        ValueError: lengths differ or no text has tokens.
    """
    from scipy.optimize import nnls

    if len(texts) != len(exact_counts):
        raise ValueError(
            f"got {len(texts)} texts but {len(exact_counts)} counts; pass one per text"
        )
    y = np.asarray(exact_counts, dtype=np.float64)
    keep = y > 0
    if not keep.any():
        raise ValueError("no calibration text has any tokens; pass non-empty texts")
    x = np.stack([script_features(t) for t in texts])[keep]  # (N, 2K)
    y = y[keep]
    seen = x[:, :NUM_CLASSES].sum(axis=0) > 0  # (K,) classes present in the data
    columns = np.concatenate([seen, seen])  # (2K,)
    coef = np.zeros(2 * NUM_CLASSES)
    coef[columns], _ = nnls(x[:, columns] / y[:, None], np.ones_like(y), maxiter=5000)
    char_rates = np.where(seen, coef[:NUM_CLASSES], UNCALIBRATED_CHAR_RATE)
    run_rates = coef[NUM_CLASSES:]
    errors = relative_errors(np.maximum(1.0, np.round(x @ coef)), y)
    bound = float(np.ceil(np.quantile(errors, 0.95) * bound_margin * 100) / 100)
    return ScriptCalibration(target, char_rates, run_rates, float(errors.mean()), bound)


def evaluate_calibration(
    calibration: ScriptCalibration, texts: Sequence[str], exact_counts: Sequence[int]
) -> dict[str, dict[str, float]]:
    """Relative error of ``calibration`` on ``texts``, overall and per dominant script.

    Returns:
        ``{script: {"docs": n, "mean": mean |rel. error|, "p95": 95th percentile,
        "signed": mean signed error}}`` with an ``"all"`` entry.
    """
    groups: dict[str, list[tuple[int, int]]] = {}
    for text, exact in zip(texts, exact_counts):
        if exact > 0:
            item = (calibration.estimate(text), int(exact))
            groups.setdefault(dominant_script(text), []).append(item)
            groups.setdefault("all", []).append(item)
    out = {}
    for script, items in sorted(groups.items()):
        est, ref = (np.array(v, dtype=np.float64) for v in zip(*items))
        errors = np.abs(est - ref) / ref
        out[script] = {
            "docs": float(len(items)),
            "mean": float(errors.mean()),
            "p95": float(np.quantile(errors, 0.95)),
            "signed": float(((est - ref) / ref).mean()),
        }
    return out


# Exact tokenizers the approximation is calibrated against (see docs/count.md for the families).
APPROX_TARGETS: dict[str, str] = {
    "cl100k_base": "tiktoken cl100k_base (GPT-4)",
    "o200k_base": "tiktoken o200k_base (GPT-4o)",
    "llama2": "Llama 2 SentencePiece BPE, 32000 ids (the tokenizer.json wordllama ships)",
}


def target_tokenizer(name: str) -> TextTokenizer:
    """The exact tokenizer behind a calibration target, built offline.

    Raises:
        ValueError: unknown target (the known ones are listed).
    """
    if name in ("cl100k_base", "o200k_base"):
        return get_tokenizer(name)
    if name == "llama2":
        from tokenizers import Tokenizer

        from polytok.tokenizers import HFTokenizer

        text = ASSETS["wordllama_tokenizer"].read_bytes().decode("utf-8")
        return HFTokenizer(Tokenizer.from_str(text), name="llama2")
    raise ValueError(f"unknown approximation target {name!r}; known: {list(APPROX_TARGETS)}")


def exact_counts(target: str, texts: Sequence[str]) -> list[int]:
    """Exact token counts of ``texts`` with the target's tokenizer (batch encoded)."""
    return [len(ids) for ids in target_tokenizer(target).encode_batch(list(texts))]


def accuracy_markdown(
    table: CalibrationTable,
    texts: Sequence[str],
    families: dict[str, list[str]] | None = None,
) -> str:
    """A Markdown table of the approximation's error per target x dominant script on ``texts``,
    next to the flat ``len/4`` rule's mean signed error.

    Args:
        table: the calibration table to score.
        texts: held-out documents.
        families: ``{target: [model families approximated against it]}`` (a column when given).
    """
    fam = families is not None
    lines = [
        ("| families " if fam else "")
        + "| target | script | docs | mean abs. rel. error | p95 | mean signed | len/4 signed |",
        ("|---" if fam else "") + "|---|---|---|---|---|---|---|",
    ]
    scripts = [dominant_script(t) for t in texts]
    for target in sorted(table.targets):
        counts = exact_counts(target, texts)
        report = evaluate_calibration(table.get(target), texts, counts)
        flat: dict[str, list[float]] = {}
        for text, script, n in zip(texts, scripts, counts):
            if n > 0:
                for key in (script, "all"):
                    flat.setdefault(key, []).append((len(text) / 4 - n) / n)
        names = ", ".join((families or {}).get(target, [])) or "-"
        for script, r in report.items():
            base = float(np.mean(flat[script]))
            lines.append(
                (f"| {names} " if fam else "")
                + f"| {target} | {script} | {int(r['docs'])} | {r['mean']:.1%} | {r['p95']:.1%} "
                f"| {r['signed']:+.1%} | {base:+.1%} |"
            )
    return "\n".join(lines)


@dataclass(frozen=True)
class CalibrationTable:
    """All targets' calibrations plus where they came from.

    Attributes:
        targets: ``{target name: ScriptCalibration}``.
        corpus: a description of the calibration corpus (name, split, fingerprint).
        fingerprint: blake2b of the table's JSON (part of cache keys of approximate counts).
    """

    targets: dict[str, ScriptCalibration]
    corpus: dict[str, Any]
    fingerprint: str

    def get(self, target: str) -> ScriptCalibration:
        """The calibration for ``target``.

        Raises:
            KeyError: no calibration for it (the calibrated targets are listed).
        """
        if target not in self.targets:
            raise KeyError(f"no calibration for {target!r}; calibrated: {sorted(self.targets)}")
        return self.targets[target]

    def to_json(self) -> str:
        data = {
            "format": CALIBRATION_FORMAT,
            "classes": list(SCRIPT_CLASSES),
            "corpus": self.corpus,
            "targets": {name: cal.to_dict() for name, cal in sorted(self.targets.items())},
        }
        return json.dumps(data, indent=1, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> CalibrationTable:
        """Parse a table written by `to_json`.

        Raises:
            ValueError: wrong format version.
        """
        data = json.loads(text)
        if data.get("format") != CALIBRATION_FORMAT:
            raise ValueError(
                f"calibration format {data.get('format')!r}, expected {CALIBRATION_FORMAT}; "
                "re-run scripts/count_calibrate.py"
            )
        targets = {k: ScriptCalibration.from_dict(k, v) for k, v in data["targets"].items()}
        digest = hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
        return cls(targets, data.get("corpus", {}), digest)


@lru_cache(maxsize=1)
def default_calibration() -> CalibrationTable:
    """The calibration table shipped with polytok (``polytok/count/calibration.json``)."""
    text = resources.files("polytok.count").joinpath(CALIBRATION_FILE).read_text("utf-8")
    return CalibrationTable.from_json(text)
