"""`import polytok.poly` stays light: Lightning is imported only by fine-tuning."""

from __future__ import annotations

import subprocess
import sys


def test_import_does_not_pull_lightning():
    code = (
        "import sys, polytok.poly; "
        "bad = [m for m in ('lightning', 'hydra', 'matplotlib') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
