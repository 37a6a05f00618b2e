"""Wall time of a 4-job sweep run serially (basic launcher) against the joblib launcher with 2
parallel jobs, both launched from this process, on the same short runs.

    python scripts/bench_sweep.py [--steps 120] [--jobs 4] [--parallel 2] [--experiment NAME]

Each job is `python train.py` with a short budget, one seed per job: the default GPT-2 run on the
default data, or ``experiment=NAME`` (e.g. ``rqvae_digits``: the RQ-VAE semantic-ID model on the
digits vectors). Serial jobs use torch's default threads (all cores); parallel jobs get
cores // parallel threads each (`polytok.sweep.threads_per_job`). Prints both wall times and the
ratio, checks that every run directory is complete, and exits 1 when the ratio exceeds 0.65.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = 0.65
SAVED = ("pretrained", "rqvae")  # the model directory a complete LM / RQ-VAE job writes


def run_sweep(
    log_dir: Path, steps: int, jobs: int, launcher: list[str], experiment: str | None = None
) -> float:
    """Run one sweep of ``jobs`` seeds; returns its wall time in seconds."""
    if experiment is None:  # the default GPT-2 run
        task = ["system.warmup_steps=10", "system.sample_tokens=10"]
    else:
        task = [f"experiment={experiment}"]
    args = [
        sys.executable,
        str(ROOT / "train.py"),
        "-m",
        *task,
        f"paths.log_dir={log_dir}",
        f"system.max_steps={steps}",
        f"trainer.val_check_interval={steps}",
        "trainer.limit_val_batches=4",
        "callbacks.progress_bar=none",
        "logger=csv",
        "seed=" + ",".join(str(s) for s in range(jobs)),
        *launcher,
    ]
    start = time.perf_counter()
    subprocess.run(args, check=True, cwd=log_dir, capture_output=True, text=True)
    return time.perf_counter() - start


def check_complete(log_dir: Path, jobs: int) -> None:
    (task,) = list(log_dir.iterdir())  # logs/<task_name>/multiruns/<time>/<job>
    (sweep,) = list((task / "multiruns").iterdir())
    for job in range(jobs):
        record = json.loads((sweep / str(job) / "job.json").read_text())
        saved = [d for d in SAVED if (sweep / str(job) / d).is_dir()]  # the model it wrote
        if record["status"] != "COMPLETED" or not saved:
            raise SystemExit(f"run directory {sweep / str(job)} is incomplete: {record}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--experiment", default=None, help="e.g. rqvae_digits (default: GPT-2)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        serial_dir, parallel_dir = Path(tmp, "serial"), Path(tmp, "parallel")
        serial_dir.mkdir()
        parallel_dir.mkdir()
        serial = run_sweep(serial_dir, args.steps, args.jobs, [], args.experiment)
        joblib = ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={args.parallel}"]
        parallel = run_sweep(parallel_dir, args.steps, args.jobs, joblib, args.experiment)
        check_complete(serial_dir, args.jobs)
        check_complete(parallel_dir, args.jobs)
    ratio = parallel / serial
    print("| launcher | wall time (s) | ratio |\n|---|---:|---:|")
    print(f"| basic (serial, baseline) | {serial:.1f} | 1.00 |")
    print(f"| joblib, {args.parallel} parallel jobs | {parallel:.1f} | {ratio:.2f} |")
    what = args.experiment or "default GPT-2 run"
    print(f"{args.jobs} jobs x {args.steps} steps of {what}; target ratio <= {TARGET}")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
