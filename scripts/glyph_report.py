"""Re-render the context-efficiency plots and report.md from a run's results.json.

python scripts/glyph_report.py logs/context_efficiency/runs/<run>
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from polytok.tasks.context_efficiency import write_plots, write_report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    args = parser.parse_args()
    results = json.loads((args.run_dir / "results.json").read_text())
    report = write_report(results, args.run_dir, write_plots(results, args.run_dir))
    print(report.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
