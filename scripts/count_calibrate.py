"""Fit the script-aware token approximation and write ``polytok/count/calibration.json``.

For each calibration target (``cl100k_base``, ``o200k_base``, ``llama2``) the exact token counts of
the multilingual dialog corpus's *train* split (every chatterbot-corpus language, one document per
conversation) are computed, per-script rates are fitted (`polytok.count.approx.fit_calibration`),
and the held-out *test* split is scored against the declared bound.

Usage:
    python scripts/count_calibrate.py            # fit, write the table, print the held-out table
    python scripts/count_calibrate.py --check    # only score the shipped table on the test split
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from importlib import resources

from polytok.count.approx import (
    APPROX_TARGETS,
    CALIBRATION_FILE,
    CalibrationTable,
    accuracy_markdown,
    default_calibration,
    evaluate_calibration,
    exact_counts,
    fit_calibration,
)
from polytok.count.registry import families_by_target
from polytok.data import load_source

SOURCE = {"name": "dialog", "language": "all"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="score the shipped table only")
    args = parser.parse_args(argv)
    source = load_source(SOURCE)
    test = source.documents("test")
    if args.check:
        table = default_calibration()
    else:
        train = source.documents("train")
        targets = {}
        for target in APPROX_TARGETS:
            targets[target] = fit_calibration(target, train, exact_counts(target, train))
            cal = targets[target]
            print(f"{target}: train mean {cal.mean_abs_rel_error:.1%}, bound {cal.error_bound:.0%}")
        corpus = {
            "source": SOURCE,
            "split": "train",
            "documents": len(train),
            "fingerprint": source.fingerprint,
            "targets": APPROX_TARGETS,
        }
        table = CalibrationTable(targets, corpus, "")
        path = resources.files("polytok.count").joinpath(CALIBRATION_FILE)
        directory = os.path.dirname(str(path))
        with tempfile.NamedTemporaryFile("w", dir=directory, delete=False, encoding="utf-8") as f:
            f.write(table.to_json())
        os.chmod(f.name, 0o644)  # NamedTemporaryFile creates 0600
        os.replace(f.name, str(path))
        print(f"wrote {path}")
    print(accuracy_markdown(table, test, families_by_target()))
    failed = []
    for target, cal in table.targets.items():
        p95 = evaluate_calibration(cal, test, exact_counts(target, test))["all"]["p95"]
        if p95 > cal.error_bound:
            failed.append(
                f"{target}: held-out p95 {p95:.1%} > declared bound {cal.error_bound:.0%}"
            )
    for line in failed:
        print("FAILED", line, file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
