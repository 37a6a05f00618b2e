"""Sweeps end to end through train.py: Optuna, joblib, submitit_local, failures, bad input.

Each job is a `debug=fast_dev_run` of a tiny GPT-2, so a job costs a process start and one batch.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from polytok.sweep import summarize

ROOT = Path(__file__).resolve().parents[1]
TINY = [
    "debug=fast_dev_run",
    "model.dim=32",
    "model.num_layers=1",
    "model.num_heads=2",
    "data.block_size=32",
    "data.batch_size=4",
]
needs_sweeps = pytest.mark.skipif(
    importlib.util.find_spec("hydra_plugins.hydra_optuna_sweeper") is None,
    reason="the sweeps extra is not installed (pip install -e '.[sweeps]')",
)


def _train(tmp_path: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HYDRA_FULL_ERROR": "0"}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), "-m", f"paths.log_dir={tmp_path}", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=900,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"train.py failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def _sweep_dir(tmp_path: Path) -> Path:
    (found,) = list((tmp_path / "train" / "multiruns").iterdir())
    return found


def _jobs(sweep: Path) -> dict[str, dict]:
    return {
        p.parent.name: json.loads(p.read_text())
        for p in sweep.glob("*/job.json")  # one directory per job
    }


def test_failed_job_is_reported_and_the_others_run(tmp_path: Path) -> None:
    proc = _train(tmp_path, *TINY, "system.lr=-1,0.002", check=False)
    assert proc.returncode != 0  # the basic sweeper re-raises the failure at the end
    sweep = _sweep_dir(tmp_path)
    jobs = _jobs(sweep)
    assert jobs["0"]["status"] == "FAILED" and "lr" in jobs["0"]["error"]
    assert jobs["1"]["status"] == "COMPLETED" and jobs["1"]["value"] > 0
    summary = summarize(sweep)
    assert summary.best.name == "1" and summary.swept == ["system.lr"]


def test_sweep_parameter_missing_from_the_config(tmp_path: Path) -> None:
    proc = _train(tmp_path, *TINY, "system.no_such_option=1,2", check=False)
    assert proc.returncode != 0
    assert "no_such_option" in proc.stderr and "not in struct" in proc.stderr


def test_unknown_hparams_search(tmp_path: Path) -> None:
    proc = _train(tmp_path, *TINY, "hparams_search=nope", check=False)
    assert proc.returncode != 0
    assert "Could not find 'hparams_search/nope'" in proc.stderr and "lm_optuna" in proc.stderr


def test_launcher_package_missing_names_the_extra(tmp_path: Path) -> None:
    if importlib.util.find_spec("hydra_plugins.hydra_ray_launcher") is not None:
        pytest.skip("hydra-ray-launcher is installed here")
    proc = _train(tmp_path, *TINY, "hydra/launcher=ray", "system.lr=1e-3,2e-3", check=False)
    assert proc.returncode != 0
    assert "hydra-ray-launcher" in proc.stderr and "polytok[ray]" in proc.stderr
    assert not (tmp_path / "train").exists()  # refused before any job started


@needs_sweeps
@pytest.mark.slow
def test_optuna_is_reproducible_and_reports_the_best_trial(tmp_path: Path) -> None:
    trials = []
    for attempt in ("a", "b"):
        out = tmp_path / attempt
        out.mkdir()
        _train(out, *TINY, "hparams_search=lm_optuna", "hydra.sweeper.n_trials=3")
        sweep = _sweep_dir(out)
        summary = summarize(sweep)
        assert summary.direction == "minimize"
        assert [j.status for j in summary.jobs] == ["COMPLETED"] * 3
        assert summary.best is not None
        results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
        assert results["best_value"] == pytest.approx(summary.best.value)
        trials.append(
            [{k: v for k, v in j.overrides.items() if k != "paths.log_dir"} for j in summary.jobs]
        )
        assert "system.lr" in summary.swept
    assert trials[0] == trials[1]  # same sampler seed, same proposals


@needs_sweeps
@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["joblib", "submitit_local"])
def test_parallel_launchers_complete_every_job(tmp_path: Path, launcher: str) -> None:
    extra = (
        ["hydra.launcher.n_jobs=2"] if launcher == "joblib" else ["hydra.launcher.timeout_min=15"]
    )
    _train(tmp_path, *TINY, f"hydra/launcher={launcher}", *extra, "system.lr=1e-3,2e-3")
    sweep = _sweep_dir(tmp_path)
    jobs = _jobs(sweep)
    assert sorted(jobs) == ["0", "1"]
    assert all(j["status"] == "COMPLETED" and j["value"] > 0 for j in jobs.values())
    for job in ("0", "1"):  # every run directory complete
        assert (sweep / job / ".hydra" / "config.yaml").is_file()


SEARCHES = {  # every hparams_search config and the experiment it is documented with
    "lm_lr": None,
    "lm_optuna": None,
    "reso_optuna": "reso_shakespeare",
    "rqvae_optuna": "rqvae_digits",
    "glyph_adapt_optuna": "glyph_adapt",
    "glyph_adapt_grid": "glyph_adapt",
}


def test_every_search_config_is_listed() -> None:
    found = {p.stem for p in (ROOT / "configs" / "hparams_search").glob("*.yaml")}
    assert found == set(SEARCHES)


@pytest.mark.parametrize("search", sorted(SEARCHES))
def test_search_params_exist_and_direction_resolves(search: str) -> None:
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    if (
        "optuna" in search
        and importlib.util.find_spec("hydra_plugins.hydra_optuna_sweeper") is None
    ):
        pytest.skip("the sweeps extra is not installed")
    overrides = [f"hparams_search={search}"]
    if SEARCHES[search]:
        overrides.append(f"experiment={SEARCHES[search]}")
    with initialize_config_dir(str(ROOT / "configs"), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    for key in cfg.hydra.sweeper.params:
        assert OmegaConf.select(cfg, key, throw_on_missing=False) is not None or key in cfg, key
    if "optuna" in search:
        assert cfg.hydra.sweeper.direction in ("minimize", "maximize")
        assert cfg.hydra.sweeper.sampler.seed == cfg.seed
