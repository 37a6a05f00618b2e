"""Summarize a Hydra multirun directory: ``python scripts/sweep_report.py MULTIRUN_DIR [--out DIR]``.

Writes ``sweep_report.md`` and ``sweep_report.csv`` (jobs sorted by the optimized metric, failed
and missing jobs last) and one PNG per swept parameter, then prints the best job's command line.
"""

from __future__ import annotations

import argparse
import sys

from polytok.sweep import write_report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", help="a multirun directory, e.g. logs/train/multiruns/<time>")
    parser.add_argument("--out", default=None, help="where to write the report (default: there)")
    args = parser.parse_args(argv)
    try:
        out = write_report(args.directory, args.out)
    except (FileNotFoundError, ValueError) as err:
        print(f"sweep_report: {err}", file=sys.stderr)
        return 2
    print(f"report: {out['markdown']}\ntable: {out['csv']}")
    for plot in out["plots"]:
        print(f"plot: {plot}")
    if out["failed"]:
        print(f"failed or missing jobs: {', '.join(out['failed'])}")
    if out["best_command"]:
        print(f"best ({out['best_value']:.6g}): {out['best_command']}")
    else:
        print("no job completed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
