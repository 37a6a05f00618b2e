"""The sweep report on a synthetic multirun directory: ranking, failures, CSV, plots, errors."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from polytok.sweep import metric_direction, summarize, threads_per_job, write_report

ROOT = Path(__file__).resolve().parents[1]


def _job(root: Path, name: str, overrides: list[str], record: dict | None) -> None:
    job = root / name
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    if record is not None:
        (job / "job.json").write_text(json.dumps(record))


def _done(value: float) -> dict:
    return {"status": "COMPLETED", "optimized_metric": "val/loss", "value": value,
            "metrics": {"val/loss": value, "val/bpb": value * 1.4}}  # fmt: skip


@pytest.fixture
def sweep_dir(tmp_path: Path) -> Path:
    root = tmp_path / "multirun"
    root.mkdir()
    (root / "multirun.yaml").write_text(
        yaml.safe_dump({"optimized_metric": "val/loss", "hydra": {"sweeper": {"params": {}}}})
    )
    base = ["experiment=gpt2_shakespeare"]
    _job(root, "0", base + ["system.lr=0.001", "model.dim=64"], _done(2.10))
    _job(root, "1", base + ["system.lr=0.004", "model.dim=64"], _done(1.95))
    _job(root, "2", base + ["system.lr=0.001", "model.dim=128"], _done(2.30))
    failed = {"status": "FAILED", "error": "ValueError: boom", "value": None, "metrics": {}}
    _job(root, "3", base + ["system.lr=0.004", "model.dim=128"], failed)
    _job(root, "10", base + ["system.lr=0.002", "model.dim=128"], None)  # killed: no record
    return root


def test_summary_ranks_completed_jobs_and_keeps_failures(sweep_dir: Path) -> None:
    summary = summarize(sweep_dir)
    assert summary.direction == "minimize"
    assert summary.swept == ["model.dim", "system.lr"]  # experiment= is the same everywhere
    assert [j.name for j in summary.ranked] == ["1", "0", "2", "3", "10"]
    assert summary.best.name == "1" and summary.best.value == pytest.approx(1.95)
    statuses = {j.name: j.status for j in summary.jobs}
    assert statuses == {"0": "COMPLETED", "1": "COMPLETED", "2": "COMPLETED", "3": "FAILED",
                        "10": "MISSING"}  # fmt: skip
    assert summary.command(summary.best) == (
        "python train.py experiment=gpt2_shakespeare system.lr=0.004 model.dim=64"
    )
    job = summary.best
    job.overrides = {"hparams_search": "lm_optuna", "hydra/launcher": "joblib", **job.overrides}
    assert summary.command(job) == (  # the sweep's own selections are left out
        "python train.py experiment=gpt2_shakespeare system.lr=0.004 model.dim=64"
    )


def test_report_files(sweep_dir: Path, tmp_path: Path) -> None:
    out = write_report(sweep_dir, tmp_path / "report")
    rows = list(csv.DictReader(open(out["csv"])))
    assert [r["job"] for r in rows] == ["1", "0", "2", "3", "10"]
    assert rows[0]["val/loss"] == "1.95" and rows[0]["rank"] == "1"
    assert rows[3]["error"] == "ValueError: boom" and rows[3]["rank"] == ""
    markdown = Path(out["markdown"]).read_text()
    assert "python train.py experiment=gpt2_shakespeare system.lr=0.004 model.dim=64" in markdown
    assert "3 (ValueError: boom)" in markdown
    assert sorted(Path(p).name for p in out["plots"]) == [
        "sweep_model_dim.png",
        "sweep_system_lr.png",
    ]
    for plot in out["plots"]:
        assert Path(plot).read_bytes()[:4] == b"\x89PNG"
    assert out["failed"] == ["3", "10"]


def test_maximized_metric_ranks_high_first(tmp_path: Path) -> None:
    root = tmp_path / "m"
    record = {"status": "COMPLETED", "optimized_metric": "val/recall@10"}
    lr = {"lr-AdamW/pg1": 1e-3}  # the first metric is not the optimized one (as in real runs)
    _job(root, "0", ["a=1"], {**record, "value": 0.5, "metrics": {**lr, "val/recall@10": 0.5}})
    _job(root, "1", ["a=2"], {**record, "value": 0.7, "metrics": {**lr, "val/recall@10": 0.7}})
    summary = summarize(root)  # no multirun.yaml (Optuna writes none): the jobs' records name it
    assert summary.optimized_metric == "val/recall@10"
    assert summary.direction == "maximize" and summary.best.name == "1"


def test_bad_input(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        summarize(tmp_path / "nope")
    with pytest.raises(ValueError, match="holds no Hydra jobs"):
        summarize(tmp_path)
    with pytest.raises(ValueError, match="hydra.sweeper.direction"):
        metric_direction("val/something")


def test_threads_per_job_divides_the_cores() -> None:
    joblib = {"launcher": {"_target_": "hydra_plugins.x.JoblibLauncher", "n_jobs": 2}}
    assert threads_per_job(joblib, cpus=8) == 4
    assert threads_per_job({"launcher": {**joblib["launcher"], "n_jobs": -1}}, cpus=8) == 1
    assert threads_per_job({"launcher": {"_target_": "hydra.BasicLauncher"}}, cpus=8) is None
    assert threads_per_job(None) is None


def test_cli(sweep_dir: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "sweep_report.py"), str(sweep_dir)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "system.lr=0.004 model.dim=64" in proc.stdout
    assert (sweep_dir / "sweep_report.md").is_file()
    bad = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "sweep_report.py"), str(sweep_dir / "0")],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "holds no Hydra jobs" in bad.stderr
