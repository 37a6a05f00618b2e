"""Wall time of a 4-job sweep run serially (basic launcher) against the joblib launcher with 2
parallel jobs, both launched from this process, on the same short GPT-2 runs.

    python scripts/bench_sweep.py [--steps 120] [--jobs 4] [--parallel 2]

Each job is `python train.py` on the default data and model with a short budget, one seed per job.
Serial jobs use torch's default threads (all cores); parallel jobs get cores // parallel threads
each (`polytok.sweep.threads_per_job`). Prints both wall times and the ratio, checks that every run
directory is complete, and exits 1 when the ratio exceeds 0.65.
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


def run_sweep(log_dir: Path, steps: int, jobs: int, launcher: list[str]) -> float:
    """Run one sweep of ``jobs`` seeds; returns its wall time in seconds."""
    args = [
        sys.executable,
        str(ROOT / "train.py"),
        "-m",
        f"paths.log_dir={log_dir}",
        f"system.max_steps={steps}",
        "system.warmup_steps=10",
        "system.sample_tokens=10",
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
    (sweep,) = list((log_dir / "train" / "multiruns").iterdir())
    for job in range(jobs):
        record = json.loads((sweep / str(job) / "job.json").read_text())
        if record["status"] != "COMPLETED" or not (sweep / str(job) / "pretrained").is_dir():
            raise SystemExit(f"run directory {sweep / str(job)} is incomplete: {record}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--parallel", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        serial_dir, parallel_dir = Path(tmp, "serial"), Path(tmp, "parallel")
        serial_dir.mkdir()
        parallel_dir.mkdir()
        serial = run_sweep(serial_dir, args.steps, args.jobs, [])
        joblib = ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={args.parallel}"]
        parallel = run_sweep(parallel_dir, args.steps, args.jobs, joblib)
        check_complete(serial_dir, args.jobs)
        check_complete(parallel_dir, args.jobs)
    ratio = parallel / serial
    print("| launcher | wall time (s) | ratio |\n|---|---:|---:|")
    print(f"| basic (serial, baseline) | {serial:.1f} | 1.00 |")
    print(f"| joblib, {args.parallel} parallel jobs | {parallel:.1f} | {ratio:.2f} |")
    print(f"{args.jobs} jobs x {args.steps} steps; target ratio <= {TARGET}")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
