"""Sweeps: what each Hydra job records, threads per parallel job, and the sweep report.

A sweep is ``python train.py -m ...`` with any sweeper (basic grid, Optuna) and any launcher (basic,
joblib, submitit, ray). Every job writes ``job.json`` into its run directory: its status
(``COMPLETED`` or ``FAILED`` with the error), the optimized metric and all final metrics.
`JobRecorder` (a Hydra callback, enabled in ``configs/hydra/default.yaml``) writes it for failed
jobs too, so a failed job is reported while the others go on. `summarize` reads a multirun
directory back and `write_report` turns it into a table (markdown + CSV) sorted by the optimized
metric, the best job as a ready-to-run command line, and one PNG per swept parameter.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from polytok.atomic import write_text_atomic

log = logging.getLogger(__name__)

JOB_RECORD = "job.json"
SWEEP_ONLY = ("hparams_search", "hydra/", "hydra.")  # overrides that only shape the sweep
# substrings of a metric name that say which way is better
_MAXIMIZE = ("recall", "ndcg", "acc", "f1", "rouge", "bleu", "bertscore", "usage", "saved")
_MINIMIZE = ("loss", "bpb", "ppl", "perplexity", "mse", "error", "collision", "time")


def metric_direction(metric: str) -> str:
    """``"minimize"`` or ``"maximize"`` for a metric name such as ``val/loss`` or ``val/recall@10``.

    Raises:
        ValueError: the name says neither; set ``hydra.sweeper.direction`` explicitly.
    """
    name = metric.lower()
    if any(key in name for key in _MAXIMIZE):
        return "maximize"
    if any(key in name for key in _MINIMIZE):
        return "minimize"
    raise ValueError(
        f"cannot tell whether optimized_metric={metric!r} should be minimized or maximized; "
        "set hydra.sweeper.direction=minimize (or maximize) explicitly"
    )


if not OmegaConf.has_resolver("polytok.direction"):
    OmegaConf.register_new_resolver("polytok.direction", metric_direction)


def threads_per_job(hydra_cfg: DictConfig | None, cpus: int | None = None) -> int | None:
    """Torch threads for one job so that parallel jobs do not oversubscribe the cores.

    ``None`` for a single run or a sequential launcher (keep torch's default). For the joblib
    launcher: ``cpus // n_jobs`` (at least 1); for submitit: ``cpus_per_task`` when set.
    """
    if hydra_cfg is None:
        return None
    launcher = hydra_cfg.get("launcher") or {}
    cpus = cpus or os.cpu_count() or 1
    target = str(launcher.get("_target_", ""))
    if "JoblibLauncher" in target:
        n_jobs = int(launcher.get("n_jobs", -1))
        n_jobs = cpus if n_jobs <= 0 else n_jobs
        return max(1, cpus // n_jobs)
    if "submitit" in target and launcher.get("cpus_per_task"):
        return int(launcher.cpus_per_task)
    return None


def configure_threads(threads: int | None) -> None:
    """Set torch's intra-op threads (and the OpenMP variable its subprocesses read)."""
    if threads is None:
        return
    import torch

    torch.set_num_threads(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    log.info("using %d torch thread(s) in this job", threads)


def write_job_record(directory: str | os.PathLike, record: dict[str, Any]) -> Path:
    """Write ``job.json`` (atomically) into a job's run directory."""
    path = Path(directory) / JOB_RECORD
    write_text_atomic(path, json.dumps(record, indent=2, sort_keys=True, default=str))
    return path


def _finite(value: Any) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def completed_record(cfg: DictConfig, result: dict[str, Any]) -> dict[str, Any]:
    """The ``job.json`` content of a finished task: its metrics and the optimized one."""
    metrics = {k: _finite(v) for k, v in (result.get("metrics") or {}).items()}
    metric = str(cfg.get("optimized_metric") or "")
    return {
        "status": "COMPLETED",
        "optimized_metric": metric,
        "value": metrics.get(metric),
        "metrics": metrics,
    }


class JobRecorder(Callback):
    """Hydra callback: records every job's outcome in ``job.json``, failed jobs included."""

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        out = Path(config.hydra.runtime.output_dir)
        if getattr(job_return.status, "name", "") == "COMPLETED":
            if not (out / JOB_RECORD).is_file():  # a task that did not write its own record
                value = _finite(job_return.return_value)
                metric = str(config.get("optimized_metric") or "")
                record = {"status": "COMPLETED", "optimized_metric": metric, "value": value}
                write_job_record(out, {**record, "metrics": {metric: value} if metric else {}})
            return
        if config.hydra.mode != RunMode.MULTIRUN:
            return  # a single run shows its error itself and leaves no run directory behind
        error = job_return._return_value  # the exception; `.return_value` would re-raise it
        out.mkdir(parents=True, exist_ok=True)  # preflight failures remove the run directory
        log.error("job %s failed: %s: %s", out, type(error).__name__, error)
        write_job_record(
            out,
            {
                "status": "FAILED",
                "error": f"{type(error).__name__}: {error}",
                "overrides": list(job_return.overrides or []),
                "optimized_metric": str(config.get("optimized_metric") or ""),
                "value": None,
                "metrics": {},
            },
        )


@dataclass
class JobResult:
    """One job of a sweep as read back from its run directory."""

    name: str  # the job's subdirectory (its number for the basic and Optuna sweepers)
    overrides: dict[str, str]
    status: str  # COMPLETED, FAILED, or MISSING (no job.json: killed or still running)
    value: float | None = None
    metrics: dict[str, float | None] = field(default_factory=dict)
    error: str = ""
    optimized_metric: str = ""  # as the job recorded it


@dataclass
class SweepSummary:
    """A whole multirun directory: jobs, the swept parameters and the best job."""

    directory: Path
    optimized_metric: str
    direction: str
    jobs: list[JobResult]
    swept: list[str]

    @property
    def ranked(self) -> list[JobResult]:
        """Completed jobs best first, then jobs without a value (failed, missing)."""
        done = [j for j in self.jobs if j.value is not None]
        done.sort(key=lambda j: j.value, reverse=self.direction == "maximize")
        return done + [j for j in self.jobs if j.value is None]

    @property
    def best(self) -> JobResult | None:
        ranked = self.ranked
        return ranked[0] if ranked and ranked[0].value is not None else None

    def command(self, job: JobResult, script: str = "train.py") -> str:
        """A ready-to-run command line that repeats ``job`` as a single run (the search and
        launcher selections of the sweep are left out)."""
        keep = {k: v for k, v in job.overrides.items() if not k.startswith(SWEEP_ONLY)}
        return " ".join(["python", script, *(f"{k}={v}" for k, v in keep.items())])


def _read_overrides(job_dir: Path, record: dict[str, Any]) -> dict[str, str]:
    path = job_dir / ".hydra" / "overrides.yaml"
    # a job that failed its preflight keeps only job.json, which records the overrides too
    items = yaml.safe_load(path.read_text()) if path.is_file() else record.get("overrides")
    items = items or []
    pairs = (str(item).split("=", 1) for item in items if "=" in str(item))
    return {key: value for key, value in pairs}


def _read_job(job_dir: Path) -> JobResult:
    record_path = job_dir / JOB_RECORD
    if not record_path.is_file():
        return JobResult(job_dir.name, _read_overrides(job_dir, {}), "MISSING", error="no job.json")
    try:
        record = json.loads(record_path.read_text())
    except (OSError, ValueError) as err:
        overrides = _read_overrides(job_dir, {})
        return JobResult(job_dir.name, overrides, "MISSING", error=f"unreadable job.json: {err}")
    overrides = _read_overrides(job_dir, record)
    return JobResult(
        name=job_dir.name,
        overrides=overrides,
        status=str(record.get("status", "MISSING")),
        value=_finite(record.get("value")),
        metrics=dict(record.get("metrics") or {}),
        error=str(record.get("error", "")),
        optimized_metric=str(record.get("optimized_metric") or ""),
    )


def _sweep_settings(directory: Path, jobs: list[JobResult]) -> tuple[str, str]:
    """(optimized metric, direction) from ``multirun.yaml`` or, failing that, the job records."""
    metric, direction = "", ""
    multirun = directory / "multirun.yaml"
    if multirun.is_file():
        cfg = yaml.safe_load(multirun.read_text()) or {}
        metric = str(cfg.get("optimized_metric") or "")
        sweeper = (cfg.get("hydra") or {}).get("sweeper") or {}
        raw = str(sweeper.get("direction") or "")
        direction = raw if raw in ("minimize", "maximize") else ""
    if not metric:  # the Optuna sweeper writes no multirun.yaml: the jobs recorded it
        metric = next((j.optimized_metric for j in jobs if j.optimized_metric), "")
    if not metric:
        raise ValueError(f"{directory} names no optimized_metric (no multirun.yaml, no job.json)")
    return metric, direction or metric_direction(metric)


def summarize(directory: str | os.PathLike) -> SweepSummary:
    """Read every job of a Hydra multirun directory (``logs/train/multiruns/<time>``).

    Raises:
        FileNotFoundError: the directory does not exist.
        ValueError: it holds no Hydra jobs (no ``*/.hydra/overrides.yaml``).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"sweep directory {directory} does not exist")
    found = {p.parent.parent for p in directory.glob("*/.hydra/overrides.yaml")}
    found |= {p.parent for p in directory.glob(f"*/{JOB_RECORD}")}
    job_dirs = sorted(found, key=lambda p: (len(p.name), p.name))
    if not job_dirs:
        raise ValueError(
            f"{directory} holds no Hydra jobs (no */.hydra/overrides.yaml); pass the multirun "
            "directory that `python train.py -m ...` printed, e.g. logs/train/multiruns/<time>"
        )
    jobs = [_read_job(p) for p in job_dirs]
    keys = sorted({k for j in jobs for k in j.overrides})
    swept = [k for k in keys if len({j.overrides.get(k) for j in jobs}) > 1]
    metric, direction = _sweep_settings(directory, jobs)
    for job in jobs:  # a record written before optimized_metric was known
        if job.value is None and job.metrics.get(metric) is not None:
            job.value = _finite(job.metrics[metric])
    return SweepSummary(directory, metric, direction, jobs, swept)


def _table_rows(summary: SweepSummary) -> list[dict[str, Any]]:
    rows = []
    for rank, job in enumerate(summary.ranked, start=1):
        row: dict[str, Any] = {"rank": rank if job.value is not None else "", "job": job.name}
        row.update({k: job.overrides.get(k, "") for k in summary.swept})
        row[summary.optimized_metric] = "" if job.value is None else f"{job.value:.6g}"
        row["status"] = job.status
        row["error"] = job.error
        rows.append(row)
    return rows


def _markdown(summary: SweepSummary, rows: list[dict[str, Any]], plots: list[Path]) -> str:
    columns = list(rows[0])
    lines = [
        f"# Sweep report: {summary.directory}",
        "",
        f"{len(summary.jobs)} jobs, {sum(j.status == 'COMPLETED' for j in summary.jobs)} "
        f"completed; optimized metric `{summary.optimized_metric}` ({summary.direction}).",
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
    ]
    for row in rows:
        cells = (str(row[c]).replace("|", "\\|").replace("\n", " ") for c in columns)
        lines.append("| " + " | ".join(cells) + " |")
    best = summary.best
    if best is not None:
        lines += ["", f"Best: job {best.name}, {summary.optimized_metric} = {best.value:.6g}"]
        lines += ["", "```bash", summary.command(best), "```"]
    failed = [j for j in summary.jobs if j.status != "COMPLETED"]
    if failed:
        lines += [
            "",
            "Failed or missing jobs: " + ", ".join(f"{j.name} ({j.error})" for j in failed),
        ]
    lines += [""] + [f"![{p.stem}]({p.name})" for p in plots]
    return "\n".join(lines) + "\n"


def _as_number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _plot(summary: SweepSummary, key: str, out: Path) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = [(j.overrides.get(key, ""), j.value) for j in summary.jobs if j.value is not None]
    if not points:
        return None
    numeric = all(_as_number(x) is not None for x, _ in points)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    if numeric:
        ax.scatter([float(x) for x, _ in points], [v for _, v in points])
        values = sorted({float(x) for x, _ in points})
        if values[0] > 0 and values[-1] / values[0] >= 20:
            ax.set_xscale("log")
    else:
        labels = sorted({x for x, _ in points})
        ax.scatter([labels.index(x) for x, _ in points], [v for _, v in points])
        ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set_xlabel(key)
    ax.set_ylabel(summary.optimized_metric)
    ax.set_title(f"{summary.optimized_metric} ({summary.direction}) vs {key}")
    fig.tight_layout()
    path = out / f"sweep_{key.replace('/', '_').replace('.', '_')}.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_report(directory: str | os.PathLike, out: str | os.PathLike | None = None) -> dict:
    """Write ``sweep_report.md``, ``sweep_report.csv`` and one PNG per swept parameter.

    Returns:
        ``{"markdown", "csv", "plots", "best_command", "best_value"}`` (paths as strings).
    """
    summary = summarize(directory)
    out = Path(out) if out is not None else summary.directory
    out.mkdir(parents=True, exist_ok=True)
    rows = _table_rows(summary)
    plots = [p for k in summary.swept if (p := _plot(summary, k, out)) is not None]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(out / "sweep_report.csv", buffer.getvalue())
    write_text_atomic(out / "sweep_report.md", _markdown(summary, rows, plots))
    best = summary.best
    return {
        "markdown": str(out / "sweep_report.md"),
        "csv": str(out / "sweep_report.csv"),
        "plots": [str(p) for p in plots],
        "best_command": summary.command(best) if best else None,
        "best_value": best.value if best else None,
        "failed": [j.name for j in summary.jobs if j.status != "COMPLETED"],
    }


# Hydra plugin packages behind each sweeper/launcher name, and the extra that installs them
PLUGINS: dict[tuple[str, str], tuple[str, str, str]] = {
    ("sweeper", "optuna"): ("hydra_plugins.hydra_optuna_sweeper", "hydra-optuna-sweeper", "sweeps"),
    ("launcher", "joblib"): (
        "hydra_plugins.hydra_joblib_launcher",
        "hydra-joblib-launcher",
        "sweeps",
    ),
    ("launcher", "submitit_local"): (
        "hydra_plugins.hydra_submitit_launcher",
        "hydra-submitit-launcher",
        "sweeps",
    ),
    ("launcher", "submitit_slurm"): (
        "hydra_plugins.hydra_submitit_launcher",
        "hydra-submitit-launcher",
        "sweeps",
    ),
    ("launcher", "ray"): ("hydra_plugins.hydra_ray_launcher", "hydra-ray-launcher", "ray"),
}


def _selected_plugins(argv: list[str], config_dir: Path) -> list[tuple[str, str]]:
    """(kind, name) of every sweeper/launcher the command line selects, directly or through an
    ``hparams_search=`` config's ``override /hydra/...`` defaults."""
    chosen = []
    for arg in argv:
        key, _, value = arg.lstrip("+~").partition("=")
        if key in ("hydra/sweeper", "hydra/launcher"):
            chosen.append((key.split("/")[1], value))
        elif key == "hparams_search" and value:
            path = config_dir / "hparams_search" / f"{value}.yaml"
            defaults = (
                (yaml.safe_load(path.read_text()) or {}).get("defaults", [])
                if path.is_file()
                else []
            )
            for item in defaults:
                for k, v in item.items() if isinstance(item, dict) else []:
                    if k.startswith("override /hydra/"):
                        chosen.append((k.rsplit("/", 1)[1], str(v)))
    return chosen


def check_plugins(argv: list[str], config_dir: str | os.PathLike) -> None:
    """Fail early, naming the package and the extra, when a selected Hydra plugin is missing.

    Raises:
        SystemExit: with the install command (Hydra itself would only say the config is missing).
    """
    import importlib.util

    for kind, name in _selected_plugins(argv, Path(config_dir)):
        module, package, extra = PLUGINS.get((kind, name), (None, None, None))
        if module and importlib.util.find_spec(module) is None:
            raise SystemExit(
                f"hydra/{kind}={name} needs the {package} package, which is not installed; "
                f"install it with: pip install -e '.[{extra}]' (or pip install 'polytok[{extra}]')"
            )
